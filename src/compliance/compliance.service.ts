import { Injectable } from '@nestjs/common';
import type { CallContext } from '../common/call-context.js';
import { LockStateReader } from '../fleet/lock-state-reader.js';
import { PolicyEvaluator } from '../policy/policy-evaluator.js';
import type { RetentionRequirement } from '../policy/policy.types.js';
import { TaurusDb } from '../taurusdb/taurusdb.js';
import { MAX_LIST_LIMIT, type InstanceDetails } from '../taurusdb/taurusdb.types.js';
import { policyDenied } from '../vault-lock/vault-lock.service.js';

export interface ComplianceEntry {
  instanceId: string;
  /** Locked for at least requiredDays. false too when the lock could not be read. */
  compliant: boolean;
  /** null when unlocked or unread. */
  retentionDays: number | null;
  requiredDays: number;
  ruleId: string;
  /** The error code of a lock read that failed, else null. */
  lockError: string | null;
}

/**
 * Which instances hold their lock as long as the policy's `minRetentionDays` asks. A caller sees
 * the covered instances it may `show`, so the report tells it nothing it could not read one
 * instance at a time; the gateway's own identity (the gauge) sees every covered instance.
 */
@Injectable()
export class ComplianceService {
  constructor(
    private readonly taurusDb: TaurusDb,
    private readonly policy: PolicyEvaluator,
    private readonly locks: LockStateReader,
  ) {}

  /** The report for a caller: refused when no rule lets it see anything in the project. */
  async report(ctx: CallContext, projectId: string): Promise<ComplianceEntry[]> {
    const denial = this.policy.denyForCaller({
      groups: ctx.principal.groups,
      projectId,
      action: 'show',
    });
    if (denial) throw policyDenied(denial);
    return this.assess(ctx, projectId, (details) =>
      this.policy
        .permittedActions({
          groups: ctx.principal.groups,
          projectId,
          enterpriseProjectId: details.enterpriseProjectId,
          tags: details.tags,
        })
        .includes('show'),
    );
  }

  /** Every covered instance, for the gateway's own identity. */
  reportForService(ctx: CallContext, projectId: string): Promise<ComplianceEntry[]> {
    return this.assess(ctx, projectId, () => true);
  }

  private async assess(
    ctx: CallContext,
    projectId: string,
    visible: (details: InstanceDetails) => boolean,
  ): Promise<ComplianceEntry[]> {
    const covered: { instanceId: string; requirement: RetentionRequirement }[] = [];
    for (let offset = 0, total = Infinity; offset < total;) {
      const page = await this.taurusDb.listInstances(ctx, projectId, {
        offset,
        limit: MAX_LIST_LIMIT,
        tags: [],
      });
      total = page.totalCount;
      if (page.instances.length === 0) break;
      offset += page.instances.length;
      for (const details of page.instances) {
        const requirement = this.policy.retentionRequirement({
          groups: ctx.principal.groups,
          projectId,
          enterpriseProjectId: details.enterpriseProjectId,
          tags: details.tags,
        });
        if (requirement && visible(details)) covered.push({ instanceId: details.id, requirement });
      }
    }
    const reads = await this.locks.read(
      ctx,
      projectId,
      covered.map(({ instanceId }) => instanceId),
    );
    return covered.map(({ instanceId, requirement }, index) => {
      const { lock, lockError } = reads[index];
      const retentionDays = lock?.enabled ? lock.retentionDays : null;
      return {
        instanceId,
        compliant: retentionDays !== null && retentionDays >= requirement.requiredDays,
        retentionDays,
        requiredDays: requirement.requiredDays,
        ruleId: requirement.ruleId,
        lockError,
      };
    });
  }
}
