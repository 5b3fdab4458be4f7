import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { AuditCompletion } from '../audit/audit-record.js';
import { AuditTrail } from '../audit/audit-trail.js';
import { Clock } from '../common/clock.js';
import { GatewayError } from '../common/gateway-error.js';
import { toGatewayError } from '../common/to-gateway-error.js';
import { SCHEDULER } from '../domain/scheduler.js';
import type { LockRequest, LockSnapshot } from '../domain/lock-request.js';
import { PolicyEvaluator } from '../policy/policy-evaluator.js';
import { TaurusDb, type TaurusDbCaller } from '../taurusdb/taurusdb.js';
import { UpstreamError } from '../taurusdb/upstream-error.js';
import { lockSnapshotOf, settlementOf } from './lock-evidence.js';
import { LockRequestRecorder, type TransitionParty } from './lock-request-recorder.js';
import { LockRequestStore } from './lock-request-store.js';
import {
  claimLockRequest,
  expireLockRequest,
  finishLockRequest,
  lockRequestFingerprint,
  releaseLockRequest,
  settleLockRequest,
  voidLockRequest,
  type ExecutionOutcome,
} from './lock-request-transitions.js';
import { lockRequestsConfig, type LockRequestsConfig } from './lock-requests.config.js';

/** Requests moved per pass; the next pass takes the rest. */
const BATCH = 20;

/**
 * The background half of DESIGN §6, on every replica: each pass expires what ran out, executes
 * what is due and settles what is uncertain. Replicas need no leader: every move is a
 * compare-and-set on the request, so of two replicas claiming one due request exactly one
 * sends its PUT.
 *
 * An execution claims the request with its `execute` audit row open, reads the lock and decides
 * again just before the PUT (voiding on any difference from what was approved), sends the PUT
 * with the gateway's own identity, and seals the row with the answer. A replica that dies in
 * between leaves the request EXECUTING past its claim; another one then settles it by reading
 * the lock, never by sending the PUT again.
 */
@Injectable()
export class LockRequestExecutor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LockRequestExecutor.name);
  /** One per process start, like the audit store's replica id. */
  private readonly executorId = randomUUID();
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly store: LockRequestStore,
    private readonly recorder: LockRequestRecorder,
    private readonly audit: AuditTrail,
    private readonly taurusDb: TaurusDb,
    private readonly policy: PolicyEvaluator,
    private readonly clock: Clock,
    @Inject(lockRequestsConfig.KEY) private readonly config: LockRequestsConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass over the requests that are due; answers how many it moved. */
  async runPass(): Promise<number> {
    const now = this.clock.now();
    const due = await this.store.listActionable(now.toISOString(), BATCH);
    let moved = 0;
    for (const request of due) {
      if (this.stopped) break;
      try {
        if (await this.advance(request, now)) moved++;
      } catch (error) {
        this.logger.warn(`lock request ${request.id} (${request.state}): ${messageOf(error)}`);
      }
    }
    return moved;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pass = this.runPass()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.warn(`lock request pass failed: ${messageOf(error)}`))
        .finally(() => {
          this.pass = null;
          this.schedule(this.config.pollIntervalSeconds * 1000);
        });
    }, delayMs);
    this.timer.unref();
  }

  private advance(request: LockRequest, now: Date): Promise<boolean> {
    switch (request.state) {
      case 'PENDING_APPROVAL':
        return this.expire(request, now);
      case 'SCHEDULED':
        return now.getTime() >= Date.parse(request.expiresAt)
          ? this.expire(request, now)
          : this.execute(request, now);
      case 'EXECUTING':
      case 'UNKNOWN':
        return this.settle(request, now);
      default:
        return Promise.resolve(false);
    }
  }

  private async expire(request: LockRequest, now: Date): Promise<boolean> {
    await this.recorder.transition(request, {
      action: 'expire',
      party: schedulerParty(),
      apply: (current) => expireLockRequest(current, now),
    });
    return true;
  }

  private async execute(request: LockRequest, now: Date): Promise<boolean> {
    const party = schedulerParty();
    const claimUntil = new Date(now.getTime() + this.config.claimSeconds * 1000);
    let claim;
    try {
      claim = await this.recorder.transition(request, {
        action: 'execute',
        party,
        keepOpen: true,
        apply: (current) =>
          claimLockRequest(current, { executor: this.executorId, claimUntil }, now),
      });
    } catch (error) {
      // Another replica claimed it first; its row says so.
      if (error instanceof GatewayError && error.status === 409) return false;
      throw error;
    }
    const claimed = claim.request;
    const auditId = claim.auditId;
    const startedMs = this.clock.monotonicMs();
    const elapsedMs = () => Math.round(this.clock.monotonicMs() - startedMs);
    const caller = serviceCaller(party);

    let voidReason: string | null;
    try {
      voidReason = await this.differenceFromApproved(caller, claimed);
    } catch (error) {
      // Nothing was sent: the request waits for the next pass, within its window.
      const failure = toGatewayError(error);
      await this.sealQuietly(auditId, {
        outcome: 'failed',
        errorCode: failure.errorCode,
        durationMs: elapsedMs(),
      });
      await this.recorder.stored(
        this.store.update(releaseLockRequest(claimed, this.clock.now()), claimed.version),
      );
      throw failure;
    }
    if (voidReason !== null) {
      await this.sealQuietly(auditId, {
        outcome: 'rejected',
        errorCode: VOIDED_ERROR_CODE,
        durationMs: elapsedMs(),
      });
      await this.recorder.transition(claimed, {
        action: 'void',
        party,
        reasons: [voidReason],
        apply: (current) => voidLockRequest(current, voidReason, this.clock.now()),
      });
      return true;
    }

    let outcome: ExecutionOutcome;
    let reason: string | null = null;
    let completion: AuditCompletion;
    try {
      await this.taurusDb.setLock(caller, claimed, {
        action: claimed.action,
        retentionDays: claimed.retentionDays,
      });
      outcome = 'SUCCEEDED';
      completion = { outcome: 'succeeded', upstreamStatus: 200, durationMs: elapsedMs() };
    } catch (error) {
      const failure = toGatewayError(error);
      const uncertain = error instanceof UpstreamError && error.outcomeUncertain;
      outcome = uncertain ? 'UNKNOWN' : 'FAILED';
      reason = failure.message;
      completion = {
        outcome: uncertain ? 'unknown' : failure.status < 500 ? 'rejected' : 'failed',
        upstreamStatus: error instanceof UpstreamError ? error.upstreamStatus : undefined,
        errorCode: failure.errorCode,
        durationMs: elapsedMs(),
      };
    }
    await this.sealQuietly(auditId, completion);
    const finished = finishLockRequest(claimed, outcome, reason, this.clock.now());
    if (!finished.ok) throw new Error(finished.refusal.message);
    const won = await this.recorder.stored(this.store.update(finished.request, claimed.version));
    if (won) this.recorder.notify(finished.request);
    else this.logger.warn(`lock request ${claimed.id} moved on before its ${outcome} was stored`);
    return true;
  }

  /**
   * Null when the lock and the decision are still the ones approved; else what differs. The
   * decision is taken again for the requester's groups as they were when the request was made.
   */
  private async differenceFromApproved(
    caller: TaurusDbCaller,
    request: LockRequest,
  ): Promise<string | null> {
    const lock = lockSnapshotOf(await this.taurusDb.showLock(caller, request));
    if (lockRequestFingerprint(request, lock) !== request.fingerprint) {
      return `the lock changed after the request was made: it was ${lockText(request.lockAtRequest)}, it is ${lockText(lock)}`;
    }
    const instance = await this.taurusDb.instanceDetails(caller, request);
    const decision = this.policy.evaluate({
      groups: request.requesterGroups,
      projectId: request.projectId,
      enterpriseProjectId: instance.enterpriseProjectId,
      tags: instance.tags,
      action: request.action,
      retentionDays: request.retentionDays,
    });
    if (!decision.allowed) {
      return `the policy (version ${decision.policyVersion}) no longer allows it: ${decision.reasons.join('; ')}`;
    }
    if (decision.ruleId !== request.ruleId) {
      return `the policy (version ${decision.policyVersion}) allows it by rule ${decision.ruleId}, not by rule ${request.ruleId} as approved`;
    }
    if (
      decision.approvalsRequired > request.approvalsRequired ||
      decision.coolingOffSeconds > request.coolingOffSeconds
    ) {
      return `the policy (version ${decision.policyVersion}) asks for ${decision.approvalsRequired} approvals and ${decision.coolingOffSeconds}s of cooling-off, more than this request had`;
    }
    return null;
  }

  /**
   * A request whose execution was cut off (EXECUTING past its claim) or came back uncertain
   * (UNKNOWN): the lock is read and, where it proves the outcome, the request ends with it.
   */
  private async settle(request: LockRequest, now: Date): Promise<boolean> {
    const party = schedulerParty();
    const lock = lockSnapshotOf(await this.taurusDb.showLock(serviceCaller(party), request));
    const settlement = settlementOf(request, request.lockAtRequest, lock);
    if (settlement.outcome === 'undecided' && request.state === 'UNKNOWN') return false;
    const outcome =
      settlement.outcome === 'succeeded'
        ? 'SUCCEEDED'
        : settlement.outcome === 'failed'
          ? 'FAILED'
          : 'UNKNOWN';
    await this.recorder.transition(request, {
      action: 'settle',
      party,
      reasons: [settlement.reason],
      settlesAuditId: request.executionAuditId,
      apply: (current) =>
        current.state === 'EXECUTING'
          ? finishLockRequest(current, outcome, settlement.reason, now)
          : settleLockRequest(current, outcome as 'SUCCEEDED' | 'FAILED', settlement.reason, now),
    });
    return true;
  }

  private async sealQuietly(auditId: string, completion: AuditCompletion): Promise<void> {
    try {
      await this.audit.complete(auditId, completion);
    } catch {
      this.logger.error(
        `audit row ${auditId} was not confirmed sealed as ${completion.outcome}; the reconcile closes it as unknown`,
      );
    }
  }
}

/** The execute row of a request voided just before its PUT: nothing was sent. */
export const VOIDED_ERROR_CODE = 'GW.REQUEST_VOIDED';

function schedulerParty(): TransitionParty {
  return {
    requestId: uuidv7(),
    correlationId: null,
    channel: 'scheduler',
    principalIss: SCHEDULER.issuer,
    principalSub: SCHEDULER.subject,
    callerAddress: SCHEDULER.callerAddress,
  };
}

function serviceCaller(party: TransitionParty): TaurusDbCaller {
  return { principal: SCHEDULER.principal, requestId: party.requestId, identity: 'service' };
}

function lockText(lock: LockSnapshot): string {
  return lock.enabled ? `on for ${lock.retentionDays ?? '?'} days` : 'off';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
