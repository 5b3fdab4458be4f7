import { Injectable, Logger } from '@nestjs/common';
import type {
  AuditAction,
  AuditOutcome,
  AuditAttempt,
  AuditChannel,
  AuditCompletion,
} from '../audit/audit-record.js';
import { AuditTrail } from '../audit/audit-trail.js';
import type { CallContext } from '../common/call-context.js';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { toGatewayError } from '../common/to-gateway-error.js';
import type { LockRequest } from '../domain/lock-request.js';
import { LockRequestNotifier, lockRequestEvent } from '../notifications/lock-request-notifier.js';
import { LockRequestStore } from './lock-request-store.js';
import type { LockRequestRefusal, LockRequestTransition } from './lock-request-transitions.js';

/** Who acts on a request, as its audit rows name them: a caller, or the scheduler. */
export interface TransitionParty {
  requestId: string;
  correlationId: string | null;
  channel: AuditChannel;
  principalIss: string;
  principalSub: string;
  callerAddress: string;
}

/** The audit actions of lock request transitions (DESIGN §6). */
export type LockRequestAuditAction = Extract<
  AuditAction,
  'request' | 'approve' | 'deny' | 'cancel' | 'expire' | 'void' | 'execute' | 'settle'
>;

/** One transition of one request: who, under which audit action, and the pure step. */
export interface TransitionStep {
  action: LockRequestAuditAction;
  party: TransitionParty;
  /** The next request from the current one (a function of lock-request-transitions.ts). */
  apply(current: LockRequest): LockRequestTransition;
  /**
   * Leave the audit row open: the caller seals it itself after its upstream call (the `execute`
   * row of a claim is sealed once the PUT has answered).
   */
  keepOpen?: boolean;
  /** Why the background made the move (what differed, what the lock proved), for the row. */
  reasons?: readonly string[];
  /** The `unknown` row a `settle` step settles. */
  settlesAuditId?: string | null;
  /**
   * What the row is sealed with once the step is stored: `succeeded` unless the step records an
   * outcome of its own (a settlement seals with the outcome the lock proved).
   */
  sealAs?: AuditOutcome;
}

export interface RecordedTransition {
  request: LockRequest;
  /** The transition's audit row. */
  auditId: string;
}

/** Lost compare-and-sets on one request before the caller is asked to try again. */
export const MAX_LOST_RACES = 5;

export function partyOf(ctx: CallContext): TransitionParty {
  return {
    requestId: ctx.requestId,
    correlationId: ctx.correlationId,
    channel: ctx.channel,
    principalIss: ctx.principal.issuer,
    principalSub: ctx.principal.subject,
    callerAddress: ctx.callerAddress,
  };
}

/**
 * Every change of a lock request, made the one way the audit trail can vouch for: the audit row
 * first, then the compare-and-set on the store, then the seal, then the notification (which
 * returns at once). A refused step is a row as well (`denied` for a 403, `rejected` for a 409),
 * and no change and no notification.
 */
@Injectable()
export class LockRequestRecorder {
  private readonly logger = new Logger(LockRequestRecorder.name);

  constructor(
    private readonly store: LockRequestStore,
    private readonly audit: AuditTrail,
    private readonly clock: Clock,
    private readonly notifier: LockRequestNotifier,
    private readonly metrics: GatewayMetrics,
  ) {}

  /**
   * A new request: its `request` row, then the insert, then the seal. `build` runs after the
   * row is written and makes the request (reading the lock it binds to); a failure there, or of
   * the insert, seals the row with the failure and is rethrown as a GatewayError.
   */
  async create(
    party: TransitionParty,
    subject: LockRequestSubject,
    build: () => Promise<LockRequest>,
  ): Promise<RecordedTransition> {
    const startedMs = this.clock.monotonicMs();
    const auditId = await this.audit.recordAttempt(
      attemptOf({ party, action: 'request' }, subject, null),
    );
    let request: LockRequest;
    try {
      request = await build();
      await this.stored(this.store.insert(request));
    } catch (error) {
      const failure = toGatewayError(error).withAuditId(auditId);
      await this.sealQuietly(auditId, {
        outcome: failure.status < 500 ? 'rejected' : 'failed',
        errorCode: failure.errorCode,
        durationMs: this.elapsedSince(startedMs),
      });
      throw failure;
    }
    // The request is stored: it stands even if its row cannot be sealed now.
    await this.sealQuietly(auditId, {
      outcome: 'succeeded',
      durationMs: this.elapsedSince(startedMs),
    });
    this.changed(request);
    return { request, auditId };
  }

  /**
   * One transition of `request` as read. A lost compare-and-set reads the request again and
   * applies the step to what another writer left, so that two approvers racing both count.
   */
  async transition(request: LockRequest, step: TransitionStep): Promise<RecordedTransition> {
    const startedMs = this.clock.monotonicMs();
    let current = request;
    let next = step.apply(current);
    if (!next.ok) {
      const auditId = await this.audit.recordSealed(
        attemptOf(step, current, next.refusal),
        refusalCompletion(next.refusal, this.elapsedSince(startedMs)),
      );
      throw refusalError(next.refusal, auditId);
    }
    const auditId = await this.audit.recordAttempt(attemptOf(step, current, null));
    const fail = async (failure: GatewayError, completion: AuditCompletion): Promise<never> => {
      await this.sealQuietly(auditId, completion);
      throw failure.withAuditId(auditId);
    };
    for (let races = 0; ; races++) {
      if (!next.ok) {
        // Another writer moved the request on first: this party was allowed, the step no longer is.
        return fail(
          refusalError(next.refusal),
          refusalCompletion(next.refusal, this.elapsedSince(startedMs)),
        );
      }
      const changed =
        step.action === 'execute' ? { ...next.request, executionAuditId: auditId } : next.request;
      let won: boolean;
      let fresh: LockRequest | null = null;
      try {
        won = await this.stored(this.store.update(changed, current.version));
        if (!won) fresh = await this.stored(this.store.get(current.id));
      } catch (error) {
        const failure = toGatewayError(error);
        return fail(failure, {
          outcome: 'failed',
          errorCode: failure.errorCode,
          durationMs: this.elapsedSince(startedMs),
        });
      }
      if (won) {
        if (!step.keepOpen) {
          // The change is made: it stands even if its row cannot be sealed now.
          await this.sealQuietly(auditId, {
            outcome: step.sealAs ?? 'succeeded',
            durationMs: this.elapsedSince(startedMs),
          });
        }
        this.changed(changed);
        return { request: changed, auditId };
      }
      if (fresh === null || races + 1 >= MAX_LOST_RACES) {
        return fail(
          new GatewayError(
            GwCode.REQUEST_CHANGED,
            409,
            `lock request ${current.id} kept changing while this ${step.action} was applied; read it again and retry`,
          ),
          {
            outcome: 'rejected',
            errorCode: GwCode.REQUEST_CHANGED,
            durationMs: this.elapsedSince(startedMs),
          },
        );
      }
      current = fresh;
      next = step.apply(current);
    }
  }

  /**
   * Ends an execution: the executor's own claim stands, so one compare-and-set, then the seal of
   * the `execute` row the claim opened, with what the PUT answered. Losing the compare-and-set
   * means the claim ran out and another replica settled the request by reading the lock; the
   * row is sealed all the same, since it says what was sent and what came back.
   */
  async finish(
    claimed: LockRequest,
    next: LockRequestTransition,
    executeAuditId: string,
    completion: AuditCompletion,
  ): Promise<LockRequest | null> {
    let won = false;
    try {
      if (!next.ok) throw new Error(next.refusal.message);
      won = await this.stored(this.store.update(next.request, claimed.version));
    } finally {
      await this.sealQuietly(executeAuditId, completion);
    }
    if (!won || !next.ok) return null;
    this.changed(next.request);
    return next.request;
  }

  /**
   * A change that is no transition of its own in the trail: an execution whose executor is gone
   * becoming UNKNOWN (its `execute` row, closed as unknown by the audit reconcile, says so), or
   * an UNKNOWN request noting what its lock showed. One compare-and-set; false when another
   * writer came first. Subscribers hear of it when the state or the reason changed: a reading
   * that showed the lock as the last one did tells them nothing new.
   */
  async move(current: LockRequest, next: LockRequestTransition): Promise<boolean> {
    if (!next.ok) return false;
    const won = await this.stored(this.store.update(next.request, current.version));
    if (won && (next.request.state !== current.state || next.request.reason !== current.reason)) {
      this.notifier.notify(lockRequestEvent(next.request));
    }
    return won;
  }

  /**
   * The store shares the audit trail's database: when it cannot be reached, the answer is the
   * trail's 503, and the database's message goes to the log only.
   */
  async stored<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.error(`lock request store ${this.store.location} failed: ${reason}`);
      throw new GatewayError(GwCode.AUDIT_UNAVAILABLE, 503, 'lock request store unavailable', {
        cause: error,
      });
    }
  }

  /**
   * A row that cannot be sealed now is sealed later with this outcome while the process runs (the
   * SQLite store tries again; a PostgreSQL replica's own reconcile seals it), else closed as
   * `unknown`; what happened to the request stands, and the log keeps what the row should have
   * said.
   */
  async sealQuietly(auditId: string, completion: AuditCompletion): Promise<void> {
    try {
      await this.audit.complete(auditId, completion);
    } catch {
      this.logger.error(
        `audit row ${auditId} was not confirmed sealed as ${completion.outcome} (${completion.errorCode ?? 'no error'})`,
      );
    }
  }

  /** A change that is stored: counted under the state entered, and told to the notifier. */
  private changed(request: LockRequest): void {
    this.metrics.lockRequestTransitions.inc({ state: request.state });
    this.notifier.notify(lockRequestEvent(request));
  }

  private elapsedSince(startedMs: number): number {
    return Math.round(this.clock.monotonicMs() - startedMs);
  }
}

/** What an audit row says about the request a transition acts on. */
export type LockRequestSubject = Pick<
  LockRequest,
  'id' | 'projectId' | 'instanceId' | 'retentionDays' | 'ruleId' | 'policyVersion'
>;

/**
 * The row's decision is whether this party may make this transition: allowed, under the rule
 * and policy version the request was made under, or refused with the refusal as the reason.
 */
function attemptOf(
  step: Pick<TransitionStep, 'party' | 'action' | 'reasons' | 'settlesAuditId'>,
  subject: LockRequestSubject,
  refusal: LockRequestRefusal | null,
): AuditAttempt {
  return {
    ...step.party,
    projectId: subject.projectId,
    instanceId: subject.instanceId,
    action: step.action,
    retentionDays: subject.retentionDays,
    dryRun: false,
    decisionAllowed: refusal === null,
    decisionRule: subject.ruleId,
    decisionReasons: refusal === null ? [...(step.reasons ?? [])] : [refusal.message],
    policyVersion: subject.policyVersion,
    lockRequestId: subject.id,
    settlesAuditId: step.settlesAuditId ?? null,
  };
}

function refusalCompletion(refusal: LockRequestRefusal, durationMs: number): AuditCompletion {
  return {
    outcome: refusal.status === 403 ? 'denied' : 'rejected',
    errorCode: refusal.errorCode,
    durationMs,
  };
}

function refusalError(refusal: LockRequestRefusal, auditId?: string): GatewayError {
  return new GatewayError(refusal.errorCode, refusal.status, refusal.message, { auditId });
}
