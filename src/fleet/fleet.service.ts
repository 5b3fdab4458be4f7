import { Injectable } from '@nestjs/common';
import type { CallContext } from '../common/call-context.js';
import { VAULT_LOCK_ACTIONS, type VaultLockAction } from '../domain/actions.js';
import { PolicyEvaluator } from '../policy/policy-evaluator.js';
import { TaurusDb } from '../taurusdb/taurusdb.js';
import {
  MAX_LIST_LIMIT,
  type InstanceDetails,
  type InstanceTag,
} from '../taurusdb/taurusdb.types.js';
import type { LockState } from '../vault-lock/vault-lock-state.js';
import { policyDenied } from '../vault-lock/vault-lock.service.js';
import { decodeFleetCursor, encodeFleetCursor } from './fleet-cursor.js';
import type { FleetFilter } from './fleet-filter.js';
import { LockStateReader, type LockRead } from './lock-state-reader.js';

export const FLEET_DEFAULT_LIMIT = 50;
export const FLEET_MAX_LIMIT = 100;
/**
 * Instances one page examines at most (ten upstream list calls). A filter that picks few of
 * them then answers a short page, possibly an empty one, with a cursor to go on from.
 */
export const FLEET_MAX_SCANNED = 1000;

export interface FleetInstance {
  instanceId: string;
  name: string;
  status: string;
  enterpriseProjectId: string;
  tags: InstanceTag[];
  /** null when the lock could not be read; then lockError says why. */
  lock: LockState | null;
  /** The error code of the failed lock read (as `error_code` would be), else null. */
  lockError: string | null;
  allowedActions: VaultLockAction[];
}

export interface FleetPage {
  instances: FleetInstance[];
  /** null when TaurusDB's list has no instance left to examine. */
  nextCursor: string | null;
}

export interface FleetPageRequest {
  projectId: string;
  filter: FleetFilter;
  limit: number;
  cursor?: string;
  /** The name the caller gave the cursor (`after`, `cursor`), for a refusal to name it. */
  cursorField: string;
}

/**
 * The instances of a project the caller may see (`show`), with their locks and what the caller
 * may do on each. Lock reads run FLEET_CONCURRENCY at a time and are kept briefly; a lock that
 * cannot be read leaves its instance on the page with the error code instead of failing it.
 */
@Injectable()
export class FleetService {
  constructor(
    private readonly taurusDb: TaurusDb,
    private readonly policy: PolicyEvaluator,
    private readonly locks: LockStateReader,
  ) {}

  async page(ctx: CallContext, request: FleetPageRequest): Promise<FleetPage> {
    const { projectId, filter, limit } = request;
    // A caller no rule lets see anything in the project is refused before any upstream call.
    const denial = this.policy.denyForCaller({
      groups: ctx.principal.groups,
      projectId,
      action: 'show',
    });
    if (denial) throw policyDenied(denial);
    let offset =
      request.cursor === undefined
        ? 0
        : decodeFleetCursor(request.cursor, projectId, filter, request.cursorField).offset;

    const instances: FleetInstance[] = [];
    let total = Infinity;
    let scanned = 0;
    while (instances.length < limit && offset < total && scanned < FLEET_MAX_SCANNED) {
      const listed = await this.taurusDb.listInstances(ctx, projectId, {
        offset,
        limit: MAX_LIST_LIMIT,
        tags: filter.tags ?? [],
      });
      total = listed.totalCount;
      // A list shorter than its own total would otherwise be asked for the same offset forever.
      if (listed.instances.length === 0) break;
      scanned += listed.instances.length;
      const candidates = listed.instances
        .map((details, index) => ({ details, offset: offset + index }))
        .filter(({ details }) => inEnterpriseProjects(details, filter));
      offset += listed.instances.length;
      const stoppedAt = await this.take(ctx, projectId, candidates, filter, limit, instances);
      if (stoppedAt !== undefined) offset = stoppedAt;
    }
    return {
      instances,
      nextCursor: offset < total ? encodeFleetCursor(projectId, filter, { offset }) : null,
    };
  }

  /**
   * Adds to `page` the candidates the caller may see and the locked filter keeps, reading locks
   * only for as many as the page still needs at a time. Answers the offset after the last one
   * taken when the page filled up, so that the next page starts right after it.
   */
  private async take(
    ctx: CallContext,
    projectId: string,
    candidates: { details: InstanceDetails; offset: number }[],
    filter: FleetFilter,
    limit: number,
    page: FleetInstance[],
  ): Promise<number | undefined> {
    const visible = candidates
      .map((candidate) => ({
        ...candidate,
        actions: this.actionsOn(ctx, projectId, candidate.details),
      }))
      .filter(({ actions }) => actions.includes('show'));
    let next = 0;
    while (next < visible.length) {
      const batch = visible.slice(next, next + (limit - page.length));
      next += batch.length;
      const reads = await this.locks.read(
        ctx,
        projectId,
        batch.map(({ details }) => details.id),
      );
      for (const [index, { details, actions, offset }] of batch.entries()) {
        const read = reads[index];
        if (!keptByLockedFilter(read, filter.locked)) continue;
        page.push({
          instanceId: details.id,
          name: details.name,
          status: details.status,
          enterpriseProjectId: details.enterpriseProjectId,
          tags: details.tags,
          ...read,
          allowedActions: VAULT_LOCK_ACTIONS.filter((action) => actions.includes(action)),
        });
        if (page.length === limit) return offset + 1;
      }
    }
    return undefined;
  }

  private actionsOn(ctx: CallContext, projectId: string, details: InstanceDetails) {
    return this.policy.permittedActions({
      groups: ctx.principal.groups,
      projectId,
      enterpriseProjectId: details.enterpriseProjectId,
      tags: details.tags,
    });
  }
}

function inEnterpriseProjects(details: InstanceDetails, filter: FleetFilter): boolean {
  const wanted = filter.enterpriseProjectIds;
  return wanted === undefined || wanted.includes(details.enterpriseProjectId);
}

function keptByLockedFilter(read: LockRead, locked: boolean | undefined): boolean {
  return locked === undefined || read.lock === null || read.lock.enabled === locked;
}
