import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AuditAttempt, AuditCompletion, AuditOutcome } from '../audit/audit-record.js';
import { AuditTrail } from '../audit/audit-trail.js';
import type { CallContext } from '../common/call-context.js';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { toGatewayError } from '../common/to-gateway-error.js';
import { PolicyEvaluator } from '../policy/policy-evaluator.js';
import { PolicyStore } from '../policy/policy-store.js';
import type { CallerRequest, PolicyDecision } from '../policy/policy.types.js';
import { TaurusDb, type SendDeadline } from '../taurusdb/taurusdb.js';
import type { InstanceDetails, VaultLockInfo } from '../taurusdb/taurusdb.types.js';
import { UpstreamError } from '../taurusdb/upstream-error.js';
import { vaultLockConfig, type VaultLockConfig } from './vault-lock.config.js';
import type { Action, VaultLockAction } from '../domain/actions.js';
import type { LockRequest } from '../domain/lock-request.js';
import { defersChange, LockRequestsService } from '../lock-requests/lock-requests.service.js';
import { lockStateOf, type LockState, type LockTarget } from './vault-lock-state.js';

export type { LockTarget } from './vault-lock-state.js';

export interface SetVaultLockCommand extends LockTarget {
  action: VaultLockAction;
  retentionDays: number;
  dryRun: boolean;
}

export interface SetVaultLockOptions {
  /**
   * Runs after the attempt row is written and just before the change is sent; a throw stops
   * the change unsent, and the row is sealed with the error. Background work holds its claim
   * here, for as long as the change may take, and answers the moment past which it must not be
   * sent.
   */
  beforeSend?: () => Promise<SendDeadline>;
}

interface SetVaultLockAnswer {
  requestId: string;
  auditId: string;
  decision: PolicyDecision;
}

/** The change was made (or, for a dry run, decided). */
interface AppliedSetVaultLock extends SetVaultLockAnswer {
  result: 'success' | 'dry-run';
  lockRequest?: undefined;
}

/** The rule defers the change to a lock request, as it was made. */
interface DeferredSetVaultLock extends SetVaultLockAnswer {
  result: 'pending-approval' | 'scheduled';
  lockRequest: Pick<LockRequest, 'id' | 'state' | 'notBefore' | 'expiresAt'>;
}

export type SetVaultLockResult = AppliedSetVaultLock | DeferredSetVaultLock;

/** What an audit row says was attempted: a lock change, or a read (`show`). */
interface AuditSubject extends LockTarget {
  action: Action;
  retentionDays: number | null;
  dryRun: boolean;
}

export interface VaultLockState extends LockState {
  /** TaurusDB's answer as it came, for the REST drop-in. */
  upstream: unknown;
  /** The read's audit row, when reads are audited (`AUDIT_READS=all`). */
  auditId?: string;
}

/**
 * The one use case behind both channels: resolve the instance, decide, record, and only then
 * call TaurusDB. The order is the point: nothing reaches TaurusDB's PUT without an allow
 * decision and a durable audit row.
 */
@Injectable()
export class VaultLockService {
  private readonly logger = new Logger(VaultLockService.name);

  constructor(
    private readonly taurusDb: TaurusDb,
    private readonly policy: PolicyEvaluator,
    private readonly policyStore: PolicyStore,
    private readonly audit: AuditTrail,
    private readonly clock: Clock,
    private readonly lockRequests: LockRequestsService,
    @Inject(vaultLockConfig.KEY) private readonly config: VaultLockConfig,
  ) {}

  async setLock(
    ctx: CallContext,
    command: SetVaultLockCommand,
    options: SetVaultLockOptions = {},
  ): Promise<SetVaultLockResult> {
    const startedMs = this.clock.monotonicMs();
    const elapsedMs = () => Math.round(this.clock.monotonicMs() - startedMs);
    const decision = await this.decisionFor(ctx, command, elapsedMs, true);
    const attempt = attemptOf(ctx, command, decisionFields(decision));
    if (!decision.allowed) {
      throw policyDenied(decision, await this.recordDenial(attempt, elapsedMs()));
    }
    if (command.dryRun) {
      const auditId = await this.audit.recordSealed(attempt, {
        outcome: 'succeeded',
        durationMs: elapsedMs(),
      });
      return { result: 'dry-run', requestId: ctx.requestId, auditId, decision };
    }

    if (defersChange(decision)) return this.deferChange(ctx, command, decision);

    const auditId = await this.audit.recordAttempt(attempt);
    try {
      const deadline = await options.beforeSend?.();
      await this.taurusDb.setLock(ctx, command, command, deadline);
    } catch (error) {
      throw await this.sealFailure(auditId, error, elapsedMs);
    }
    await this.completeQuietly(auditId, {
      outcome: 'succeeded',
      upstreamStatus: 200,
      durationMs: elapsedMs(),
    });
    return { result: 'success', requestId: ctx.requestId, auditId, decision };
  }

  /**
   * The rule asks for approvals or a cooling-off: the change becomes a lock request, whose
   * `request` row is this call's audit row, and TaurusDB's PUT waits for background execution.
   */
  private async deferChange(
    ctx: CallContext,
    command: SetVaultLockCommand,
    decision: PolicyDecision,
  ): Promise<SetVaultLockResult> {
    const { request, auditId } = await this.lockRequests.request(ctx, command, decision);
    return {
      result: request.state === 'PENDING_APPROVAL' ? 'pending-approval' : 'scheduled',
      requestId: ctx.requestId,
      auditId,
      decision,
      lockRequest: {
        id: request.id,
        state: request.state,
        notBefore: request.notBefore,
        expiresAt: request.expiresAt,
      },
    };
  }

  /**
   * A read changes nothing, but a refused one is reconnaissance: `AUDIT_READS` (default
   * `denied`) records every read that was not allowed, `all` every read, the way a mutation is
   * recorded (an attempt before TaurusDB's GET, sealed after it), and `none` none.
   */
  async showLock(ctx: CallContext, target: LockTarget): Promise<VaultLockState> {
    const startedMs = this.clock.monotonicMs();
    const elapsedMs = () => Math.round(this.clock.monotonicMs() - startedMs);
    const audited = this.config.auditReads;
    const read: AuditSubject = { ...target, action: 'show', retentionDays: null, dryRun: false };
    const decision = await this.decisionFor(ctx, read, elapsedMs, audited !== 'none');
    const attempt = attemptOf(ctx, read, decisionFields(decision));
    if (!decision.allowed) {
      const auditId =
        audited === 'none' ? undefined : await this.recordDenial(attempt, elapsedMs());
      throw policyDenied(decision, auditId);
    }

    const auditId = audited === 'all' ? await this.audit.recordAttempt(attempt) : undefined;
    let upstream: VaultLockInfo;
    try {
      upstream = await this.taurusDb.showLock(ctx, target);
    } catch (error) {
      if (auditId === undefined) throw error;
      throw await this.sealFailure(auditId, error, elapsedMs);
    }
    if (auditId !== undefined) {
      await this.completeQuietly(auditId, {
        outcome: 'succeeded',
        upstreamStatus: 200,
        durationMs: elapsedMs(),
      });
    }
    return { ...lockStateOf(target, upstream), upstream, auditId };
  }

  /**
   * The policy decision: from the caller alone when no rule can match whatever the instance,
   * else on the instance's details. A failure on the way (IAM refused, unknown instance,
   * upstream down) leaves a row when `recordFailure`.
   */
  private async decisionFor(
    ctx: CallContext,
    subject: AuditSubject,
    elapsedMs: () => number,
    recordFailure: boolean,
  ): Promise<PolicyDecision> {
    const retentionDays = subject.retentionDays ?? undefined;
    const callerDenial = this.policy.denyForCaller(
      callerRequestOf(ctx, subject, subject.action, retentionDays),
    );
    if (callerDenial) return callerDenial;
    try {
      const instance = await this.taurusDb.instanceDetails(ctx, subject);
      return this.decide(ctx, subject, subject.action, instance, retentionDays);
    } catch (error) {
      if (!recordFailure) throw error;
      throw await this.recordFailureBeforeDecision(ctx, subject, error, elapsedMs);
    }
  }

  /** A denial makes no upstream call: its row is written sealed. */
  private recordDenial(attempt: AuditAttempt, durationMs: number): Promise<string> {
    return this.audit.recordSealed(attempt, {
      outcome: 'denied',
      errorCode: GwCode.POLICY_DENIED,
      durationMs,
    });
  }

  private decide(
    ctx: CallContext,
    target: LockTarget,
    action: Action,
    instance: InstanceDetails,
    retentionDays?: number,
  ): PolicyDecision {
    return this.policy.evaluate({
      ...callerRequestOf(ctx, target, action, retentionDays),
      enterpriseProjectId: instance.enterpriseProjectId,
      tags: instance.tags,
    });
  }

  /** Failing before a decision (IAM refused, unknown instance, upstream down) still leaves a row. */
  private async recordFailureBeforeDecision(
    ctx: CallContext,
    subject: AuditSubject,
    error: unknown,
    elapsedMs: () => number,
  ): Promise<GatewayError> {
    const failure = toGatewayError(error);
    const notEvaluated = {
      decisionAllowed: false,
      decisionRule: null,
      decisionReasons: [`not evaluated: ${failure.message}`],
      policyVersion: this.policyStore.current().version,
    };
    const auditId = await this.audit.recordSealed(attemptOf(ctx, subject, notEvaluated), {
      ...completionOf(failure, error, elapsedMs()),
      outcome: failure.status < 500 ? 'rejected' : 'failed',
    });
    return failure.withAuditId(auditId);
  }

  /** Seals the open row of a call that failed upstream; answers the error for the caller. */
  private async sealFailure(
    auditId: string,
    error: unknown,
    elapsedMs: () => number,
  ): Promise<GatewayError> {
    const failure = toGatewayError(error).withAuditId(auditId);
    await this.completeQuietly(auditId, completionOf(failure, error, elapsedMs()));
    return failure;
  }

  /**
   * The upstream call already happened: its answer stands even if the row cannot be sealed now.
   * The store seals a row left open with this outcome later, while the process runs (SQLite
   * tries the seal again; a PostgreSQL replica's periodic reconcile seals it); otherwise it is
   * closed as `unknown` (SQLite at the next start, or by another replica after this one stopped).
   */
  private async completeQuietly(auditId: string, completion: AuditCompletion): Promise<void> {
    try {
      await this.audit.complete(auditId, completion);
    } catch {
      // What the gateway knew is kept here too, for a row a reconcile can only call `unknown`.
      this.logger.error(
        `audit row ${auditId} was not confirmed sealed as ${completion.outcome}` +
          ` (upstream ${completion.upstreamStatus ?? '-'}, ${completion.errorCode ?? 'no error'});` +
          ' if it stayed open, a reconcile closes it',
      );
    }
  }
}

type DecisionFields = Pick<
  AuditAttempt,
  'decisionAllowed' | 'decisionRule' | 'decisionReasons' | 'policyVersion'
>;

function attemptOf(
  ctx: CallContext,
  subject: AuditSubject,
  decision: DecisionFields,
): AuditAttempt {
  return {
    requestId: ctx.requestId,
    correlationId: ctx.correlationId,
    channel: ctx.channel,
    principalIss: ctx.principal.issuer,
    principalSub: ctx.principal.subject,
    callerAddress: ctx.callerAddress,
    projectId: subject.projectId,
    instanceId: subject.instanceId,
    action: subject.action,
    retentionDays: subject.retentionDays,
    dryRun: subject.dryRun,
    ...decision,
  };
}

function callerRequestOf(
  ctx: CallContext,
  target: LockTarget,
  action: Action,
  retentionDays?: number,
): CallerRequest {
  return { groups: ctx.principal.groups, projectId: target.projectId, action, retentionDays };
}

/** The caller hears the explanation meant for it; the audit row keeps the full reasons. */
export function policyDenied(decision: PolicyDecision, auditId?: string): GatewayError {
  return new GatewayError(GwCode.POLICY_DENIED, 403, `policy denied: ${decision.explanation}`, {
    auditId,
  });
}

function decisionFields(decision: PolicyDecision): DecisionFields {
  return {
    decisionAllowed: decision.allowed,
    decisionRule: decision.ruleId,
    decisionReasons: decision.reasons,
    policyVersion: decision.policyVersion,
  };
}

/**
 * Whether a failed change may have been applied at TaurusDB although no success answer arrived:
 * the PUT may have been sent (deadline passed after sending, reset mid-answer), or the failure is
 * one nothing was foreseen for. Such a change is settled by reading its lock, never sent again.
 */
export function changeMayHaveApplied(failure: GatewayError, thrown: unknown): boolean {
  return (
    (thrown instanceof UpstreamError && thrown.outcomeUncertain) ||
    failure.errorCode === GwCode.INTERNAL
  );
}

/** rejected: TaurusDB refused (4xx). failed: it certainly did not apply. unknown: it may have. */
function completionOf(failure: GatewayError, error: unknown, durationMs: number): AuditCompletion {
  const upstream = error instanceof UpstreamError ? error : undefined;
  const outcome: AuditOutcome = upstream?.outcomeUncertain
    ? 'unknown'
    : failure.status < 500
      ? 'rejected'
      : 'failed';
  return {
    outcome,
    upstreamStatus: upstream?.upstreamStatus,
    errorCode: failure.errorCode,
    durationMs,
  };
}
