import type { BulkItemOutcome, BulkLockItem, BulkLockJob } from '../domain/bulk-lock-job.js';

/** A new job as it is stored: state, counts and items come from the store. */
export type NewBulkLockJob = Omit<BulkLockJob, 'state' | 'total' | 'done'>;

/** A runner's hold on one of a job's slots, until `until`. */
export interface BulkItemClaim {
  holder: string;
  slot: number;
  until: string;
}

/** The failure a change answered when it may still have been applied: kept until it is settled. */
export interface UnsettledFailure {
  errorCode: string;
  auditId: string | null;
}

/**
 * Where bulk jobs and their items are kept: the SQLite file of the audit trail when embedded,
 * the same PostgreSQL database when shared (DESIGN §5). Every store passes the one contract
 * suite (`testing/bulk-job-store.contract.ts`).
 *
 * Every move of an item is a compare-and-set, so of two replicas reaching for one item exactly
 * one runs it, and a job never has more items RUNNING than it has slots: a RUNNING item holds
 * one slot number, unique within its job. Times are the gateway clock's ISO strings.
 */
export abstract class BulkJobStore {
  /** Where the jobs are, for the log: never a password. */
  abstract readonly location: string;

  /** Connects and creates or migrates the schema. */
  abstract open(): Promise<void>;

  /**
   * Stores the job QUEUED with one PENDING item per instance, in this order, all at once. When
   * the creator already has a job under the same idempotency key, made within the time a key is
   * kept before the new job's `createdAt` (DESIGN §5: 24 h), stores nothing and answers that job
   * instead; otherwise answers the stored one, which takes the key over from an older job.
   */
  abstract create(job: NewBulkLockJob, instanceIds: readonly string[]): Promise<BulkLockJob>;

  abstract get(id: string): Promise<BulkLockJob | null>;

  /**
   * The job its creator made under `idempotencyKey` within the time a key is kept (24 h) before
   * `now`, or null.
   */
  abstract byIdempotencyKey(
    creatorIss: string,
    creatorSub: string,
    idempotencyKey: string,
    now: string,
  ): Promise<BulkLockJob | null>;

  /** The job's items, in position order. */
  abstract items(jobId: string): Promise<BulkLockItem[]>;

  /** Jobs that are QUEUED or RUNNING, oldest first, at most `limit`; those after `after` if given. */
  abstract unfinished(limit: number, after?: BulkLockJob): Promise<BulkLockJob[]>;

  /**
   * Moves the job's first PENDING item to RUNNING under `claim`, if the claim's slot is free;
   * answers the item, or null when no item was claimed (none pending, the slot is taken, or
   * another runner came first). The job becomes RUNNING with its first claimed item.
   */
  abstract claimNext(jobId: string, claim: BulkItemClaim): Promise<BulkLockItem | null>;

  /**
   * Takes over a RUNNING item whose claim ran out before `now` (its runner is gone, or left it
   * to be settled), keeping its slot. An item whose change may have been sent (it has a
   * lock-before) is taken over only once its claim ran out `sentGraceMs` before `now`, so that
   * its PUT has had the time to land. Answers the item as taken over, with what its runner kept
   * on it until then, for exactly one of several runners trying; null for the others.
   */
  abstract reclaim(
    jobId: string,
    instanceId: string,
    claim: Omit<BulkItemClaim, 'slot'>,
    now: string,
    sentGraceMs: number,
  ): Promise<BulkLockItem | null>;

  /**
   * Keeps the lock as read just before the item's change is sent, on a RUNNING item `holder`
   * still holds; false when it does not. Settling the item after a crash compares with it.
   */
  abstract keepLockBefore(
    jobId: string,
    instanceId: string,
    holder: string,
    lock: NonNullable<BulkLockItem['lockBefore']>,
  ): Promise<boolean>;

  /**
   * Moves the claim on a RUNNING item `holder` still holds to `until`, even one that ran out but
   * was not yet taken over; false when it does not hold it (another runner took it over). Of an
   * extension and a takeover racing, exactly one succeeds.
   */
  abstract extendClaim(
    jobId: string,
    instanceId: string,
    holder: string,
    until: string,
  ): Promise<boolean>;

  /**
   * Leaves a RUNNING item `holder` still holds to be settled by reading its lock: its change
   * may have been applied although it answered `failure`, which is kept on the item for when
   * the lock shows it was not. The item keeps its slot, and its claim now ends at `until`, after
   * which another runner takes it over (`reclaim`); false when `holder` does not hold it.
   */
  abstract leaveUnsettled(
    jobId: string,
    instanceId: string,
    holder: string,
    failure: UnsettledFailure,
    until: string,
  ): Promise<boolean>;

  /** Ends a RUNNING item its `holder` still holds, freeing its slot; false when it does not. */
  abstract finish(
    jobId: string,
    instanceId: string,
    holder: string,
    outcome: BulkItemOutcome,
  ): Promise<boolean>;

  /** FINISHED once no item is PENDING or RUNNING; true when this call finished it. */
  abstract finishJob(jobId: string): Promise<boolean>;

  /** Readiness. */
  abstract check(): Promise<void>;

  abstract close(): Promise<void>;
}
