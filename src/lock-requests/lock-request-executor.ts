import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { AuditCompletion } from '../audit/audit-record.js';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { toGatewayError } from '../common/to-gateway-error.js';
import { upstreamConfig, type UpstreamConfig } from '../config/upstream.config.js';
import { BACKGROUND_PRINCIPAL } from '../domain/background-principal.js';
import type { LockRequest, LockSnapshot } from '../domain/lock-request.js';
import { PolicyEvaluator } from '../policy/policy-evaluator.js';
import {
  changeBudgetMs,
  sendDeadlineWithin,
  TaurusDb,
  uncertainGraceMs,
  type TaurusDbCaller,
} from '../taurusdb/taurusdb.js';
import { UpstreamError } from '../taurusdb/upstream-error.js';
import { backgroundCaller } from './background-caller.js';
import { lockSnapshotOf, settlementOf, UNDECIDED_REREAD_MS } from './lock-evidence.js';
import { LockRequestRecorder, type TransitionParty } from './lock-request-recorder.js';
import { LockRequestStore } from './lock-request-store.js';
import {
  claimLockRequest,
  expireLockRequest,
  finishLockRequest,
  lockRequestFingerprint,
  releaseLockRequest,
  changedSinceRead,
  deferLockRequestReading,
  noteUnsettledLockRequest,
  settleLockRequest,
  voidLockRequest,
  type ExecutionOutcome,
} from './lock-request-transitions.js';
import { lockRequestsConfig, type LockRequestsConfig } from './lock-requests.config.js';
import { LostAnswerSettler } from './lost-answer-settler.js';
import { Tracing } from '../tracing/tracing.js';

/** The attributes of a background step's span: the lock request and the state it left. */
const LOCK_REQUEST_ATTRIBUTES = {
  id: 'gateway.lock_request_id',
  state: 'gateway.lock_request_state',
} as const;

/** Requests moved per pass; the next pass takes the rest. */
const BATCH = 20;
/** The lease under which one replica settles the lost answers of single calls. */
const LOST_ANSWERS_LEASE = 'settle-lost-answers';
/** The execute row of a request voided just before its PUT: nothing was sent. */
export const VOIDED_ERROR_CODE = 'GW.REQUEST_VOIDED';

/**
 * The background half of DESIGN §6, on every replica: each pass expires what ran out, executes
 * what is due and settles what is uncertain. Replicas need no leader for it: every move is a
 * compare-and-set on the request, so of two replicas claiming one due request exactly one sends
 * its PUT.
 *
 * An execution claims the request with its `execute` audit row open, reads the lock and asks
 * the policy again just before the PUT (voiding the request on any difference from what was
 * approved), sends the PUT with the gateway's own identity, and seals the row with the answer.
 * A replica that dies in between leaves the request EXECUTING past its claim; another replica
 * then settles it by reading the lock, never by sending the PUT again.
 */
@Injectable()
export class LockRequestExecutor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LockRequestExecutor.name);
  /** One per process start, like the audit store's replica id. */
  private readonly executorId = randomUUID();
  /** A PUT is only sent while this much of the claim is left (see changeBudgetMs). */
  private readonly putBudgetMs: number;
  /**
   * How long a claim holds: the lock and instance reads before the PUT (each with its IAM
   * token), the PUT's budget, and a pass to spare. Until then no other replica takes the
   * request for a dead one's.
   */
  private readonly claimMs: number;
  /** How long an uncertain PUT is given to land at TaurusDB before its lock is read. */
  private readonly uncertainGraceMs: number;
  private readonly upstreamTimeoutMs: number;
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly store: LockRequestStore,
    private readonly recorder: LockRequestRecorder,
    private readonly settler: LostAnswerSettler,
    private readonly taurusDb: TaurusDb,
    private readonly policy: PolicyEvaluator,
    private readonly clock: Clock,
    @Inject(lockRequestsConfig.KEY) private readonly config: LockRequestsConfig,
    @Inject(upstreamConfig.KEY) upstream: UpstreamConfig,
    private readonly tracing: Tracing,
  ) {
    this.putBudgetMs = changeBudgetMs(upstream.timeoutMs);
    this.claimMs = 4 * upstream.timeoutMs + this.putBudgetMs + config.pollIntervalSeconds * 1000;
    this.uncertainGraceMs = uncertainGraceMs(upstream.timeoutMs);
    this.upstreamTimeoutMs = upstream.timeoutMs;
  }

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  /** Before the stores close: a pass in flight finishes what it started. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass;
  }

  /**
   * One pass: lock requests first, then, on the lease holder, lost answers. Every step reads the
   * clock afresh: a pass can take long, and a claim or a window judged by its start could be
   * over already.
   */
  async runPass(): Promise<void> {
    const listedAt = this.clock.now();
    const due = await this.store.listActionable(
      listedAt.toISOString(),
      BATCH,
      new Date(listedAt.getTime() - this.uncertainGraceMs).toISOString(),
    );
    for (const request of due) {
      if (this.stopped) return;
      await this.tracing
        .inRootSpan(
          'lock request',
          {
            [LOCK_REQUEST_ATTRIBUTES.id]: request.id,
            [LOCK_REQUEST_ATTRIBUTES.state]: request.state,
          },
          () => this.advance(request),
        )
        .catch((error: unknown) =>
          this.logger.warn(`lock request ${request.id} (${request.state}): ${messageOf(error)}`),
        );
    }
    if (!this.stopped && (await this.holdsSettlementLease())) {
      await this.settler.settlePass(this.uncertainGraceMs, () => this.holdsSettlementLease());
    }
  }

  /** Takes or renews the lease for three passes from now; false while another replica has it. */
  private holdsSettlementLease(): Promise<boolean> {
    const now = this.clock.now();
    const until = new Date(now.getTime() + 3 * this.config.pollIntervalSeconds * 1000);
    return this.store.claimLease(
      LOST_ANSWERS_LEASE,
      this.executorId,
      now.toISOString(),
      until.toISOString(),
    );
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pass = this.runPass()
        .catch((error: unknown) => this.logger.warn(`background pass failed: ${messageOf(error)}`))
        .finally(() => {
          this.pass = null;
          this.schedule(this.config.pollIntervalSeconds * 1000);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async advance(request: LockRequest): Promise<void> {
    const now = this.clock.now();
    switch (request.state) {
      case 'PENDING_APPROVAL':
        return this.expire(request, now);
      case 'SCHEDULED':
        return now.getTime() >= Date.parse(request.expiresAt)
          ? this.expire(request, now)
          : this.execute(request, now);
      case 'EXECUTING':
        return this.abandon(request, now);
      case 'UNKNOWN':
        return this.settle(request, now);
      default:
        return undefined;
    }
  }

  private async expire(request: LockRequest, now: Date): Promise<void> {
    await this.recorder.transition(request, {
      action: 'expire',
      party: schedulerParty(),
      apply: (current) => expireLockRequest(current, now),
    });
  }

  private async execute(request: LockRequest, now: Date): Promise<void> {
    const party = schedulerParty();
    const claimUntil = new Date(now.getTime() + this.claimMs);
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
      // Another replica claimed it first (its row and this one's refusal say so).
      if (error instanceof GatewayError && error.status === 409) return;
      throw error;
    }
    const { request: claimed, auditId } = claim;
    const startedMs = this.clock.monotonicMs();
    const elapsedMs = () => Math.round(this.clock.monotonicMs() - startedMs);
    const caller = backgroundCaller(party.requestId);

    let difference: string | null;
    try {
      difference = await this.differenceFromApproved(caller, claimed);
    } catch (error) {
      const failure = toGatewayError(error);
      await this.recorder.finish(claimed, releaseLockRequest(claimed, this.clock.now()), auditId, {
        outcome: 'failed',
        errorCode: failure.errorCode,
        durationMs: elapsedMs(),
      });
      throw failure;
    }
    const leftMs = Math.min(Date.parse(claimed.claimUntil!), Date.parse(claimed.expiresAt));
    const tooShort = () =>
      this.recorder.finish(claimed, releaseLockRequest(claimed, this.clock.now()), auditId, {
        outcome: 'failed',
        errorCode: GwCode.CLAIM_TOO_SHORT,
        durationMs: elapsedMs(),
      });
    if (difference === null && this.clock.nowMs() + this.putBudgetMs > leftMs) {
      // The reads took so long that a PUT sent now could outlive the claim or the window:
      // another replica could then read the lock before it lands. Nothing is sent.
      await tooShort();
      return;
    }
    if (difference !== null) {
      await this.recorder.sealQuietly(auditId, {
        outcome: 'rejected',
        errorCode: VOIDED_ERROR_CODE,
        durationMs: elapsedMs(),
      });
      await this.recorder.transition(claimed, {
        action: 'void',
        party,
        reasons: [difference],
        apply: (current) => voidLockRequest(current, difference, this.clock.now()),
      });
      return;
    }

    let outcome: ExecutionOutcome;
    let reason: string | null = null;
    let completion: AuditCompletion;
    try {
      await this.taurusDb.setLock(
        caller,
        claimed,
        { action: claimed.action, retentionDays: claimed.retentionDays },
        sendDeadlineWithin(leftMs, this.upstreamTimeoutMs),
      );
      outcome = 'SUCCEEDED';
      completion = { outcome: 'succeeded', upstreamStatus: 200, durationMs: elapsedMs() };
    } catch (error) {
      const failure = toGatewayError(error);
      if (failure.errorCode === GwCode.CLAIM_TOO_SHORT) {
        // Its IAM token came too late: nothing was sent, and the request waits for a pass.
        await tooShort();
        return;
      }
      const upstream = error instanceof UpstreamError ? error : undefined;
      outcome = upstream?.outcomeUncertain ? 'UNKNOWN' : 'FAILED';
      reason = failure.message;
      completion = {
        outcome: upstream?.outcomeUncertain
          ? 'unknown'
          : failure.status < 500
            ? 'rejected'
            : 'failed',
        upstreamStatus: upstream?.upstreamStatus,
        errorCode: failure.errorCode,
        durationMs: elapsedMs(),
      };
    }
    const finished = await this.recorder.finish(
      claimed,
      finishLockRequest(claimed, outcome, reason, this.clock.now()),
      auditId,
      completion,
    );
    if (finished === null) {
      this.logger.warn(
        `lock request ${claimed.id} was settled by another replica before its ${outcome} was stored`,
      );
    }
  }

  /**
   * Null when the lock and the decision are still the ones approved; else what differs. The
   * policy is asked again about the requester's groups as they were when the request was made.
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
    const policy = `the policy (version ${decision.policyVersion})`;
    if (!decision.allowed) {
      return `${policy} no longer allows it: ${decision.reasons.join('; ')}`;
    }
    if (decision.ruleId !== request.ruleId) {
      return `${policy} allows it by rule ${decision.ruleId}, not by rule ${request.ruleId} as approved`;
    }
    if (!sameGroups(decision.approverGroups, request.approverGroups)) {
      return `${policy} names ${decision.approverGroups.join(', ') || 'no'} approver group(s), not ${request.approverGroups.join(', ') || 'none'} as approved`;
    }
    if (
      decision.approvalsRequired > request.approvalsRequired ||
      decision.coolingOffSeconds > request.coolingOffSeconds
    ) {
      return `${policy} asks for ${decision.approvalsRequired} approval(s) and ${decision.coolingOffSeconds}s of cooling-off, more than this request had`;
    }
    return null;
  }

  /**
   * An execution whose claim ran out: its replica died or stalled before the PUT answered. The
   * request becomes UNKNOWN (its `execute` row, closed by the audit reconcile, records that) and
   * is settled once the grace for a late PUT has passed.
   */
  private async abandon(request: LockRequest, now: Date): Promise<void> {
    await this.recorder.move(
      request,
      finishLockRequest(request, 'UNKNOWN', 'its executor stopped before TaurusDB answered', now),
    );
  }

  /**
   * An UNKNOWN execution, uncertain for longer than the grace: the lock is read and, where it
   * proves the outcome, the request ends with it (a `settle` row sealed with that outcome, naming
   * the `execute` row it settles). Otherwise the request notes what the lock showed, and the lock
   * is read again only after UNDECIDED_REREAD_MS. A reading that fails is put off for twice the
   * request's last wait, at least the grace and at most UNDECIDED_REREAD_MS (so the grace, then
   * doubling; after an undecided reading, the most), so that requests whose lock cannot be read
   * neither hold up the others nor are read on every pass.
   */
  private async settle(request: LockRequest, now: Date): Promise<void> {
    const party = schedulerParty();
    let info;
    try {
      info = await this.taurusDb.showLock(backgroundCaller(party.requestId), request);
    } catch (error) {
      const deferredAt = this.clock.now();
      await this.recorder
        .move(
          request,
          deferLockRequestReading(
            request,
            deferredAt,
            new Date(deferredAt.getTime() + this.nextReadingDelayMs(request)),
          ),
        )
        .catch((deferral: unknown) =>
          this.logger.warn(
            `lock request ${request.id}: its next reading could not be put off: ${messageOf(deferral)}`,
          ),
        );
      throw error;
    }
    const settlement = settlementOf(request, request.lockAtRequest, lockSnapshotOf(info));
    if (settlement.outcome === 'undecided') {
      const notedAt = this.clock.now();
      await this.recorder.move(
        request,
        noteUnsettledLockRequest(
          request,
          settlement.reason,
          notedAt,
          new Date(notedAt.getTime() + UNDECIDED_REREAD_MS),
        ),
      );
      return;
    }
    const proven = settlement.outcome;
    await this.recorder.transition(request, {
      action: 'settle',
      party,
      reasons: [settlement.reason],
      settlesAuditId: request.executionAuditId,
      sealAs: proven,
      apply: (current) =>
        current.version === request.version
          ? settleLockRequest(current, upper(proven), settlement.reason, now)
          : changedSinceRead(request),
    });
  }

  /** The grace after a first failed reading, then twice the last wait, up to UNDECIDED_REREAD_MS. */
  private nextReadingDelayMs(request: LockRequest): number {
    const lastWaitMs =
      request.nextReadingAt === null
        ? 0
        : Date.parse(request.nextReadingAt) - Date.parse(request.updatedAt);
    return Math.min(UNDECIDED_REREAD_MS, Math.max(this.uncertainGraceMs, 2 * lastWaitMs));
  }
}

function upper(outcome: 'succeeded' | 'failed'): 'SUCCEEDED' | 'FAILED' {
  return outcome === 'succeeded' ? 'SUCCEEDED' : 'FAILED';
}

/** The same groups, in whatever order and however often named. */
function sameGroups(a: readonly string[], b: readonly string[]): boolean {
  const key = (groups: readonly string[]) => JSON.stringify([...new Set(groups)].sort());
  return key(a) === key(b);
}

function schedulerParty(): TransitionParty {
  return {
    requestId: uuidv7(),
    correlationId: null,
    channel: 'scheduler',
    principalIss: BACKGROUND_PRINCIPAL.issuer,
    principalSub: BACKGROUND_PRINCIPAL.subject,
    callerAddress: BACKGROUND_PRINCIPAL.callerAddress,
  };
}

function lockText(lock: LockSnapshot): string {
  return lock.enabled ? `on for ${lock.retentionDays ?? 'an unknown number of'} days` : 'off';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
