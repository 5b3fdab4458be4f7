import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { CallContext } from '../common/call-context.js';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { toGatewayError } from '../common/to-gateway-error.js';
import { upstreamConfig, type UpstreamConfig } from '../config/upstream.config.js';
import type { BulkItemOutcome, BulkLockItem, BulkLockJob } from '../domain/bulk-lock-job.js';
import type { LockSnapshot } from '../domain/lock-request.js';
import { Principal } from '../domain/principal.js';
import { backgroundCaller } from '../lock-requests/background-caller.js';
import { lockSnapshotOf, settlementOf } from '../lock-requests/lock-evidence.js';
import {
  lockRequestsConfig,
  type LockRequestsConfig,
} from '../lock-requests/lock-requests.config.js';
import {
  changeBudgetMs,
  sendDeadlineWithin,
  TaurusDb,
  uncertainGraceMs,
  type SendDeadline,
} from '../taurusdb/taurusdb.js';
import {
  changeMayHaveApplied,
  VaultLockService,
  type SetVaultLockResult,
} from '../vault-lock/vault-lock.service.js';
import { BulkJobStore, type UnsettledFailure } from './bulk-job-store.js';
import { bulkLocksConfig, type BulkLocksConfig } from './bulk-locks.config.js';
import { Tracing } from '../tracing/tracing.js';

/** The attributes of a bulk item's span. */
const BULK_ITEM_ATTRIBUTES = {
  job: 'gateway.bulk_job_id',
  instance: 'gateway.instance_id',
} as const;

/** Open jobs read at a time; a pass reads them all, page after page. */
const BATCH = 20;
/**
 * A replica runs at most this many jobs' worth of lanes at once (BULK_CONCURRENCY each), so that
 * many open jobs do not turn into as many times more calls at TaurusDB; the rest wait a pass.
 */
const JOBS_AT_ONCE = 20;
/** An item whose change may have applied: the lock read neither proves nor rules it out. */
export const UNSETTLED_ERROR_CODE = 'GW.OUTCOME_UNKNOWN';
/** An item whose runner died before its change was applied, as its lock shows. */
export const CRASHED_ERROR_CODE = 'GW.CRASHED';

/** A change that answered a failure but may have been applied: its lock has the last word. */
interface UncertainChange {
  uncertain: UnsettledFailure;
}

/** How an item's run ends: with its outcome, or left to be settled by reading its lock. */
type ItemRun = BulkItemOutcome | UncertainChange;

/**
 * The background half of bulk jobs, on every replica, in passes like the lock request executor.
 * A pass starts one lane per free slot of each open job; a lane claims the job's next item
 * (compare-and-set into its slot), runs it through the single call's use case, stores the
 * outcome and claims the next, until none is left. So a job never runs more than
 * BULK_CONCURRENCY items at once across replicas, and of two replicas exactly one runs an item.
 *
 * An item is decided on its creator's groups, and TaurusDB is called with the gateway's own
 * identity: the creator's token has long expired by the time the later items run. An item left
 * RUNNING by a runner that died, or whose change failed in a way that may still have applied it
 * (a deadline passed after sending), is settled by reading its lock once the change has had time
 * to land, never by a second PUT; its attempt row was written before the PUT, and is closed and
 * settled like a single call's.
 */
@Injectable()
export class BulkLockRunner implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BulkLockRunner.name);
  /**
   * How long a claim holds before the change: the lock and instance reads, each with its IAM
   * token and within its deadline, and a pass to spare. Just before the PUT the claim is
   * extended by the change's budget, so that no other runner settles the item while its PUT
   * may still land.
   */
  private readonly claimMs: number;
  private readonly changeBudgetMs: number;
  private readonly pollMs: number;
  private readonly upstreamTimeoutMs: number;
  /** How long after its claim a change that may have been sent is left to land. */
  private readonly uncertainGraceMs: number;
  /** This process's lanes: `jobId/slot`. */
  private readonly lanes = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly store: BulkJobStore,
    private readonly vaultLocks: VaultLockService,
    private readonly taurusDb: TaurusDb,
    private readonly clock: Clock,
    @Inject(bulkLocksConfig.KEY) private readonly config: BulkLocksConfig,
    @Inject(lockRequestsConfig.KEY) lockRequests: LockRequestsConfig,
    @Inject(upstreamConfig.KEY) upstream: UpstreamConfig,
    private readonly tracing: Tracing,
  ) {
    this.pollMs = lockRequests.pollIntervalSeconds * 1000;
    this.upstreamTimeoutMs = upstream.timeoutMs;
    this.uncertainGraceMs = uncertainGraceMs(upstream.timeoutMs);
    this.claimMs = 4 * upstream.timeoutMs + this.pollMs;
    this.changeBudgetMs = changeBudgetMs(upstream.timeoutMs) + this.pollMs;
  }

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  /** Before the stores close: the items in flight finish what they started. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass;
    await this.idle();
  }

  /** Resolves once every lane of this process has ended. */
  async idle(): Promise<void> {
    while (this.lanes.size > 0) await Promise.all(this.lanes.values());
  }

  /** Starts a pass now, as a new job is created, instead of at the next tick. */
  nudge(): void {
    if (this.pass === null && !this.stopped) this.schedule(0);
  }

  /**
   * One pass over every open job, a page at a time: settles the items of dead runners, fills
   * free slots, finishes ended jobs. A job whose items cannot be settled yet (their locks cannot
   * be read) does not hold up the jobs after it.
   */
  async runPass(): Promise<void> {
    let after: BulkLockJob | undefined;
    for (;;) {
      const jobs = await this.store.unfinished(BATCH, after);
      for (const job of jobs) {
        if (this.stopped) return;
        await this.advance(job).catch((error: unknown) =>
          this.logger.warn(`bulk job ${job.id}: ${messageOf(error)}`),
        );
      }
      if (jobs.length < BATCH) return;
      after = jobs[jobs.length - 1];
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.pass = this.runPass()
        .catch((error: unknown) => this.logger.warn(`bulk pass failed: ${messageOf(error)}`))
        .finally(() => {
          this.pass = null;
          this.schedule(this.pollMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async advance(job: BulkLockJob): Promise<void> {
    const now = this.clock.now();
    const items = await this.store.items(job.id);
    const taken = new Set<number>();
    for (const item of items) {
      if (item.state !== 'RUNNING' || item.slot === null) continue;
      taken.add(item.slot);
      // Read earlier in the pass: the store decides on the item as it is now, the grace included.
      if (item.claimUntil !== null && Date.parse(item.claimUntil) < now.getTime()) {
        await this.takeOver(job, item.instanceId, now).catch((error: unknown) =>
          this.logger.warn(
            `bulk job ${job.id}, instance ${item.instanceId}: takeover failed, ` +
              `tried again once its new claim has run out: ${messageOf(error)}`,
          ),
        );
      }
    }
    if (!items.some((item) => item.state === 'PENDING' || item.state === 'RUNNING')) {
      await this.store.finishJob(job.id);
      return;
    }
    for (let slot = 0; slot < this.config.concurrency; slot++) {
      const lane = `${job.id}/${slot}`;
      if (taken.has(slot) || this.lanes.has(lane) || this.stopped) continue;
      if (this.lanes.size >= JOBS_AT_ONCE * this.config.concurrency) return;
      this.lanes.set(
        lane,
        this.runLane(job, slot)
          .catch((error: unknown) => this.logger.warn(`bulk job ${job.id}: ${messageOf(error)}`))
          .finally(() => this.lanes.delete(lane)),
      );
    }
  }

  /** Claims and runs the job's items one after the other in one slot, until none is left. */
  private async runLane(job: BulkLockJob, slot: number): Promise<void> {
    while (!this.stopped) {
      const holder = claimHolder();
      const item = await this.store.claimNext(job.id, { holder, slot, until: this.claimUntil() });
      if (item === null) break;
      const run = await this.tracing.inRootSpan(
        'bulk item',
        { [BULK_ITEM_ATTRIBUTES.job]: job.id, [BULK_ITEM_ATTRIBUTES.instance]: item.instanceId },
        () => this.runClaimed(job, item.instanceId, holder),
      );
      // An item left to be settled keeps the lane's slot until then: the lane ends.
      if (!(await this.conclude(job, item, run, holder))) break;
    }
    await this.store.finishJob(job.id);
  }

  /**
   * A change first keeps the lock as it is, so that a crash after it can be settled by comparing
   * with it; a dry run changes nothing and goes straight to the use case.
   */
  private async runClaimed(job: BulkLockJob, instanceId: string, holder: string): Promise<ItemRun> {
    if (!job.dryRun) {
      try {
        const before = lockSnapshotOf(
          await this.taurusDb.showLock(this.caller(), target(job, instanceId)),
        );
        if (!(await this.store.keepLockBefore(job.id, instanceId, holder, before))) {
          throw new Error('claim lost before the change was sent');
        }
      } catch (error) {
        return failedBeforeSending(error);
      }
    }
    return this.runItem(job, instanceId, holder);
  }

  /** The single call's use case, decided on the creator's groups, sent with the service identity. */
  private async runItem(job: BulkLockJob, instanceId: string, holder: string): Promise<ItemRun> {
    try {
      const answer = await this.vaultLocks.setLock(
        itemContext(job),
        {
          projectId: job.projectId,
          instanceId,
          action: job.action,
          retentionDays: job.retentionDays,
          dryRun: job.dryRun,
        },
        { beforeSend: () => this.holdClaimForChange(job, instanceId, holder) },
      );
      return outcomeOf(answer);
    } catch (error) {
      const failure = toGatewayError(error);
      if (!job.dryRun && changeMayHaveApplied(failure, error)) {
        return { uncertain: { errorCode: failure.errorCode, auditId: failure.auditId ?? null } };
      }
      return {
        state: failure.errorCode === GwCode.POLICY_DENIED ? 'DENIED' : 'FAILED',
        result: null,
        errorCode: failure.errorCode,
        auditId: failure.auditId ?? null,
        lockRequestId: null,
      };
    }
  }

  /**
   * The reads and the audit row before the PUT may have used up the claim: it is extended by
   * the change's budget, or, when another runner has taken the item over meanwhile, nothing is
   * sent (that runner settles the item by reading its lock). The PUT must start early enough
   * to answer within the extended claim.
   */
  private async holdClaimForChange(
    job: BulkLockJob,
    instanceId: string,
    holder: string,
  ): Promise<SendDeadline> {
    const untilMs = this.clock.nowMs() + this.changeBudgetMs;
    if (
      !(await this.store.extendClaim(job.id, instanceId, holder, new Date(untilMs).toISOString()))
    ) {
      throw new GatewayError(
        GwCode.CLAIM_TOO_SHORT,
        503,
        'the claim on this item was lost before its change was sent; nothing was sent',
      );
    }
    return sendDeadlineWithin(untilMs, this.upstreamTimeoutMs);
  }

  private caller() {
    return backgroundCaller(uuidv7());
  }

  /**
   * A runner died holding the item. A dry run, or a change whose lock-before was not yet kept,
   * sent nothing, so it is simply run again; otherwise the change may have reached TaurusDB, so
   * its lock is read and the item ends as the lock proves against the lock-before.
   */
  private async takeOver(job: BulkLockJob, instanceId: string, now: Date): Promise<void> {
    const claim = { holder: claimHolder(), until: this.claimUntil() };
    const item = await this.store.reclaim(
      job.id,
      instanceId,
      claim,
      now.toISOString(),
      this.uncertainGraceMs,
    );
    if (item === null) return;
    const run =
      item.lockBefore === null
        ? await this.runClaimed(job, instanceId, claim.holder)
        : await this.settle(job, item, item.lockBefore);
    await this.conclude(job, item, run, claim.holder);
  }

  /**
   * Reads the lock of an item whose change may have been applied, and ends it as the lock proves
   * against the lock-before: a change its lock shows not applied ends with the failure it
   * answered (or `GW.CRASHED` when its runner died), one it shows applied as a success. A lock
   * that cannot be read now throws, and the item is taken over again once its new claim has run
   * out; the lock of an instance that TaurusDB itself says is gone can never be read, so its
   * item ends unsettled.
   */
  private async settle(
    job: BulkLockJob,
    item: BulkLockItem,
    before: LockSnapshot,
  ): Promise<BulkItemOutcome> {
    const { instanceId } = item;
    let info;
    try {
      info = await this.taurusDb.showLock(this.caller(), target(job, instanceId));
    } catch (error) {
      if (!isGone(toGatewayError(error))) throw error;
      this.logger.warn(
        `bulk job ${job.id}, instance ${instanceId}: the instance is gone, so its change cannot be settled`,
      );
      return { ...settledFrom(item), errorCode: UNSETTLED_ERROR_CODE };
    }
    const settlement = settlementOf(
      { action: job.action, retentionDays: job.retentionDays },
      before,
      lockSnapshotOf(info),
    );
    this.logger.log(`bulk job ${job.id}, instance ${instanceId}: ${settlement.reason}`);
    switch (settlement.outcome) {
      case 'succeeded':
        return { ...settledFrom(item), state: 'SUCCEEDED', result: 'success' };
      case 'failed':
        return { ...settledFrom(item), errorCode: item.errorCode ?? CRASHED_ERROR_CODE };
      default:
        return { ...settledFrom(item), errorCode: UNSETTLED_ERROR_CODE };
    }
  }

  /**
   * Stores how the item's run ended; true when the lane may go on to the next item. A change
   * that may have been applied is left RUNNING in its slot, its claim ending now, so that a pass
   * settles it by reading its lock once the change has had the grace to land.
   */
  private async conclude(
    job: BulkLockJob,
    item: BulkLockItem,
    run: ItemRun,
    holder: string,
  ): Promise<boolean> {
    if ('uncertain' in run) {
      const left = await this.store.leaveUnsettled(
        job.id,
        item.instanceId,
        holder,
        run.uncertain,
        this.clock.now().toISOString(),
      );
      const next = left ? 'its lock will be read to settle it' : 'its claim was lost meanwhile';
      this.logger.warn(
        `bulk job ${job.id}, instance ${item.instanceId}: its change answered ` +
          `${run.uncertain.errorCode} but may have been applied; ${next}`,
      );
      return false;
    }
    if (!(await this.store.finish(job.id, item.instanceId, holder, run))) {
      this.logger.warn(
        `bulk job ${job.id}, instance ${item.instanceId}: claim lost before its ${run.state} was stored`,
      );
    }
    return true;
  }

  private claimUntil(): string {
    return new Date(this.clock.now().getTime() + this.claimMs).toISOString();
  }
}

/**
 * The creator, as its job keeps it: its groups for the decision, no token (TaurusDB is called
 * with the service identity), and the job's request id to find every item's row by.
 */
function itemContext(job: BulkLockJob): CallContext {
  return {
    requestId: uuidv7(),
    correlationId: job.requestId,
    channel: job.channel,
    principal: new Principal(job.creatorIss, job.creatorSub, job.creatorGroups, ''),
    callerAddress: job.callerAddress,
    identity: 'service',
  };
}

/**
 * Each claim is a holder of its own, not the process: a lane that stalled past its claim must
 * find the item lost even when a pass of its own process took it over, or both would send.
 */
const claimHolder = () => randomUUID();

const target = (job: BulkLockJob, instanceId: string) => ({
  projectId: job.projectId,
  instanceId,
});

/**
 * TaurusDB's own answer that the instance does not exist (a `DBS.*` 404), not a 404 from Huawei's
 * API gateway for a path it does not know (`APIGW.*`) or from a proxy, which a fixed endpoint
 * setting can still cure.
 */
const isGone = (failure: GatewayError) =>
  failure.status === 404 && failure.errorCode.startsWith('DBS.');

/** An item settled from its lock: FAILED unless the lock shows otherwise, with its attempt row. */
function settledFrom(item: BulkLockItem): BulkItemOutcome {
  return {
    state: 'FAILED',
    result: null,
    errorCode: null,
    auditId: item.auditId,
    lockRequestId: null,
  };
}

/** The lock could not be read (or the claim was lost) before anything was sent. */
function failedBeforeSending(error: unknown): BulkItemOutcome {
  return {
    state: 'FAILED',
    result: null,
    errorCode: toGatewayError(error).errorCode,
    auditId: null,
    lockRequestId: null,
  };
}

function outcomeOf(answer: SetVaultLockResult): BulkItemOutcome {
  const common = { result: answer.result, errorCode: null, auditId: answer.auditId };
  if (answer.lockRequest !== undefined) {
    const state = answer.result === 'pending-approval' ? 'PENDING_APPROVAL' : 'SCHEDULED';
    return { ...common, state, lockRequestId: answer.lockRequest.id };
  }
  return { ...common, state: 'SUCCEEDED', lockRequestId: null };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
