import type {
  BulkItemOutcome,
  BulkItemState,
  BulkJobState,
  BulkLockItem,
  BulkLockJob,
} from '../domain/bulk-lock-job.js';
import type { VaultLockAction } from '../domain/actions.js';
import { IDEMPOTENCY_KEY_KEPT_MS } from '../domain/idempotency.js';
import type { BulkItemClaim, NewBulkLockJob, UnsettledFailure } from './bulk-job-store.js';

/**
 * What the SQLite and the PostgreSQL bulk job stores share: the columns, the mapping of jobs and
 * items onto them, and the SQL. Each store only says how its database writes a parameter, a
 * boolean, and how a claim passes over an item another transaction is claiming.
 */
export interface BulkJobDialect {
  /** The placeholder of the `position`th parameter (from 1). */
  placeholder(position: number): string;
  /** How a boolean is sent as a parameter. */
  bool(value: boolean): unknown;
  /** Appended to the claim's choice of item: rows other claims hold are passed over. */
  skipLocked: string;
}

export interface Statement {
  sql: string;
  values: unknown[];
}

/** A job as its columns hold it, with the counts its items give. */
export interface BulkJobRow {
  id: string;
  state: BulkJobState;
  project_id: string;
  action: VaultLockAction;
  retention_days: number;
  dry_run: boolean | number;
  creator_iss: string;
  creator_sub: string;
  /** A JSON array. */
  creator_groups: string;
  channel: 'graphql' | 'rest';
  caller_address: string;
  request_id: string;
  idempotency_key: string | null;
  fingerprint: string;
  created_at: string;
  /** Counts: PostgreSQL's come as strings. */
  total: number | string;
  done: number | string;
}

export interface BulkItemRow {
  job_id: string;
  position: number;
  instance_id: string;
  state: BulkItemState;
  result: string | null;
  error_code: string | null;
  audit_id: string | null;
  lock_request_id: string | null;
  lock_before_enabled: boolean | number | null;
  lock_before_retention_days: number | null;
  /** PostgreSQL's bigint comes as a string. */
  lock_before_ends_at_ms: number | string | null;
  holder: string | null;
  claim_until: string | null;
  slot: number | null;
}

const JOB_INSERT_COLUMNS = [
  'id',
  'state',
  'project_id',
  'action',
  'retention_days',
  'dry_run',
  'creator_iss',
  'creator_sub',
  'creator_groups',
  'channel',
  'caller_address',
  'request_id',
  'idempotency_key',
  'fingerprint',
  'created_at',
] as const;

const ITEM_COLUMNS = `job_id, position, instance_id, state, result, error_code, audit_id,
  lock_request_id, lock_before_enabled, lock_before_retention_days, lock_before_ends_at_ms,
  holder, claim_until, slot`;

/** Items that have not ended. */
const OPEN_ITEM_STATES = `('PENDING', 'RUNNING')`;

const SELECT_JOB = `SELECT ${JOB_INSERT_COLUMNS.map((c) => `j.${c}`).join(', ')},
  (SELECT count(*) FROM bulk_lock_items i WHERE i.job_id = j.id) AS total,
  (SELECT count(*) FROM bulk_lock_items i
    WHERE i.job_id = j.id AND i.state NOT IN ${OPEN_ITEM_STATES}) AS done
  FROM bulk_lock_jobs j`;

class Parameters {
  readonly values: unknown[] = [];

  constructor(private readonly dialect: BulkJobDialect) {}

  readonly add = (value: unknown): string => {
    this.values.push(value);
    return this.dialect.placeholder(this.values.length);
  };
}

export function jobFromRow(row: BulkJobRow): BulkLockJob {
  return {
    id: row.id,
    state: row.state,
    projectId: row.project_id,
    action: row.action,
    retentionDays: row.retention_days,
    dryRun: Boolean(row.dry_run),
    creatorIss: row.creator_iss,
    creatorSub: row.creator_sub,
    creatorGroups: JSON.parse(row.creator_groups) as string[],
    channel: row.channel,
    callerAddress: row.caller_address,
    requestId: row.request_id,
    idempotencyKey: row.idempotency_key,
    fingerprint: row.fingerprint,
    createdAt: row.created_at,
    total: Number(row.total),
    done: Number(row.done),
  };
}

export function itemFromRow(row: BulkItemRow): BulkLockItem {
  return {
    jobId: row.job_id,
    position: row.position,
    instanceId: row.instance_id,
    state: row.state,
    result: row.result,
    errorCode: row.error_code,
    auditId: row.audit_id,
    lockRequestId: row.lock_request_id,
    lockBefore:
      row.lock_before_enabled === null
        ? null
        : {
            enabled: Boolean(row.lock_before_enabled),
            retentionDays: row.lock_before_retention_days,
            endsAtMs:
              row.lock_before_ends_at_ms === null ? null : Number(row.lock_before_ends_at_ms),
          },
    holder: row.holder,
    claimUntil: row.claim_until,
    slot: row.slot,
  };
}

/** Inserts the job unless the creator already has one under its idempotency key. */
export function insertJobStatement(dialect: BulkJobDialect, job: NewBulkLockJob): Statement {
  const params = new Parameters(dialect);
  const values: Record<(typeof JOB_INSERT_COLUMNS)[number], unknown> = {
    id: job.id,
    state: 'QUEUED',
    project_id: job.projectId,
    action: job.action,
    retention_days: job.retentionDays,
    dry_run: dialect.bool(job.dryRun),
    creator_iss: job.creatorIss,
    creator_sub: job.creatorSub,
    creator_groups: JSON.stringify(job.creatorGroups),
    channel: job.channel,
    caller_address: job.callerAddress,
    request_id: job.requestId,
    idempotency_key: job.idempotencyKey,
    fingerprint: job.fingerprint,
    created_at: job.createdAt,
  };
  const placeholders = JOB_INSERT_COLUMNS.map((c) => params.add(values[c]));
  return {
    sql: `INSERT INTO bulk_lock_jobs (${JOB_INSERT_COLUMNS.join(', ')})
      VALUES (${placeholders.join(', ')})
      ON CONFLICT (creator_iss, creator_sub, idempotency_key) DO NOTHING`,
    values: params.values,
  };
}

type KeyOwner = Pick<NewBulkLockJob, 'creatorIss' | 'creatorSub' | 'idempotencyKey'>;

/** The earliest creation time whose idempotency key is still kept at `now` (ISO times). */
export function keyKeptSince(now: string): string {
  return new Date(Date.parse(now) - IDEMPOTENCY_KEY_KEPT_MS).toISOString();
}

/** The rows of the creator's key (the unique index's columns), under the table's `alias`. */
function ownedKey(p: Parameters, job: KeyOwner, alias = ''): string {
  const column = (name: string) => (alias === '' ? name : `${alias}.${name}`);
  return `${column('creator_iss')} = ${p.add(job.creatorIss)}
      AND ${column('creator_sub')} = ${p.add(job.creatorSub)}
      AND ${column('idempotency_key')} = ${p.add(job.idempotencyKey)}`;
}

/** The creator's job under the key, when it was made at or after `keptSince`. */
export function jobByKeyStatement(
  dialect: BulkJobDialect,
  job: KeyOwner,
  keptSince: string,
): Statement {
  const p = new Parameters(dialect);
  return {
    sql: `${SELECT_JOB} WHERE ${ownedKey(p, job, 'j')} AND j.created_at >= ${p.add(keptSince)}`,
    values: p.values,
  };
}

/**
 * Frees the creator's key from a job made before `keptSince`, so that a new job may take it:
 * the key is unique per creator, and the old job no longer answers for it.
 */
export function releaseKeyStatement(
  dialect: BulkJobDialect,
  job: KeyOwner,
  keptSince: string,
): Statement {
  const p = new Parameters(dialect);
  return {
    sql: `UPDATE bulk_lock_jobs SET idempotency_key = NULL
      WHERE ${ownedKey(p, job)} AND created_at < ${p.add(keptSince)}`,
    values: p.values,
  };
}

export function jobStatement(dialect: BulkJobDialect, id: string): Statement {
  const p = new Parameters(dialect);
  return { sql: `${SELECT_JOB} WHERE j.id = ${p.add(id)}`, values: p.values };
}

export function itemsStatement(dialect: BulkJobDialect, jobId: string): Statement {
  const p = new Parameters(dialect);
  return {
    sql: `SELECT ${ITEM_COLUMNS} FROM bulk_lock_items WHERE job_id = ${p.add(jobId)} ORDER BY position`,
    values: p.values,
  };
}

export function unfinishedStatement(
  dialect: BulkJobDialect,
  limit: number,
  after?: Pick<BulkLockJob, 'createdAt' | 'id'>,
): Statement {
  const p = new Parameters(dialect);
  const page =
    after === undefined
      ? ''
      : `AND (j.created_at > ${p.add(after.createdAt)}
          OR (j.created_at = ${p.add(after.createdAt)} AND j.id > ${p.add(after.id)}))`;
  return {
    sql: `${SELECT_JOB} WHERE j.state IN ('QUEUED', 'RUNNING') ${page}
      ORDER BY j.created_at, j.id LIMIT ${p.add(limit)}`,
    values: p.values,
  };
}

/**
 * The first PENDING item becomes RUNNING in the claim's slot, unless a RUNNING item of the job
 * holds that slot already (the unique index on (job_id, slot) of RUNNING items settles a race
 * between two databases' transactions; this condition settles it within one).
 */
export function claimNextStatement(
  dialect: BulkJobDialect,
  jobId: string,
  claim: BulkItemClaim,
): Statement {
  // Each use of a value is a parameter of its own: SQLite's `?` is positional.
  const p = new Parameters(dialect);
  return {
    sql: `UPDATE bulk_lock_items SET state = 'RUNNING', holder = ${p.add(claim.holder)},
        claim_until = ${p.add(claim.until)}, slot = ${p.add(claim.slot)}
      WHERE job_id = ${p.add(jobId)} AND state = 'PENDING'
        AND position = (SELECT position FROM bulk_lock_items
          WHERE job_id = ${p.add(jobId)} AND state = 'PENDING' ORDER BY position LIMIT 1${dialect.skipLocked})
        AND NOT EXISTS (SELECT 1 FROM bulk_lock_items
          WHERE job_id = ${p.add(jobId)} AND state = 'RUNNING' AND slot = ${p.add(claim.slot)})
      RETURNING ${ITEM_COLUMNS}`,
    values: p.values,
  };
}

export function jobRunningStatement(dialect: BulkJobDialect, jobId: string): Statement {
  const p = new Parameters(dialect);
  return {
    sql: `UPDATE bulk_lock_jobs SET state = 'RUNNING' WHERE id = ${p.add(jobId)} AND state = 'QUEUED'`,
    values: p.values,
  };
}

/**
 * Takes the item over when its claim ran out before `now`, and, when its change may have been
 * sent (a lock-before is kept), `sentGraceMs` before `now`: decided on the row as it is, not as
 * a pass read it earlier.
 */
export function reclaimStatement(
  dialect: BulkJobDialect,
  jobId: string,
  instanceId: string,
  claim: { holder: string; until: string },
  now: string,
  sentGraceMs: number,
): Statement {
  const p = new Parameters(dialect);
  const sentBefore = new Date(Date.parse(now) - sentGraceMs).toISOString();
  return {
    sql: `UPDATE bulk_lock_items SET holder = ${p.add(claim.holder)}, claim_until = ${p.add(claim.until)}
      WHERE job_id = ${p.add(jobId)} AND instance_id = ${p.add(instanceId)}
        AND state = 'RUNNING' AND claim_until < ${p.add(now)}
        AND (lock_before_enabled IS NULL OR claim_until < ${p.add(sentBefore)})
      RETURNING ${ITEM_COLUMNS}`,
    values: p.values,
  };
}

export function finishItemStatement(
  dialect: BulkJobDialect,
  jobId: string,
  instanceId: string,
  holder: string,
  outcome: BulkItemOutcome,
): Statement {
  const p = new Parameters(dialect);
  return {
    sql: `UPDATE bulk_lock_items SET state = ${p.add(outcome.state)}, result = ${p.add(outcome.result)},
        error_code = ${p.add(outcome.errorCode)}, audit_id = ${p.add(outcome.auditId)},
        lock_request_id = ${p.add(outcome.lockRequestId)}, holder = NULL, claim_until = NULL, slot = NULL
      WHERE job_id = ${p.add(jobId)} AND instance_id = ${p.add(instanceId)}
        AND state = 'RUNNING' AND holder = ${p.add(holder)}`,
    values: p.values,
  };
}

export function finishJobStatement(dialect: BulkJobDialect, jobId: string): Statement {
  const p = new Parameters(dialect);
  return {
    sql: `UPDATE bulk_lock_jobs SET state = 'FINISHED' WHERE id = ${p.add(jobId)} AND state <> 'FINISHED'
      AND NOT EXISTS (SELECT 1 FROM bulk_lock_items
        WHERE job_id = ${p.add(jobId)} AND state IN ${OPEN_ITEM_STATES})`,
    values: p.values,
  };
}

/**
 * Moves the claim on the item to `until`, while `holder` still holds it; with `failure`, also
 * keeps the failure its change answered, for the item's settlement.
 */
export function extendClaimStatement(
  dialect: BulkJobDialect,
  jobId: string,
  instanceId: string,
  holder: string,
  until: string,
  failure?: UnsettledFailure,
): Statement {
  const p = new Parameters(dialect);
  // Placeholders are added in the order they appear: SQLite's `?` is positional.
  const claimUntil = `claim_until = ${p.add(until)}`;
  const kept =
    failure === undefined
      ? ''
      : `, error_code = ${p.add(failure.errorCode)}, audit_id = ${p.add(failure.auditId)}`;
  return {
    sql: `UPDATE bulk_lock_items SET ${claimUntil}${kept}
      WHERE job_id = ${p.add(jobId)} AND instance_id = ${p.add(instanceId)}
        AND state = 'RUNNING' AND holder = ${p.add(holder)}`,
    values: p.values,
  };
}

/** Keeps the lock as read before the item's change, while `holder` still holds the item. */
export function lockBeforeStatement(
  dialect: BulkJobDialect,
  jobId: string,
  instanceId: string,
  holder: string,
  lock: NonNullable<BulkLockItem['lockBefore']>,
): Statement {
  const p = new Parameters(dialect);
  return {
    sql: `UPDATE bulk_lock_items SET lock_before_enabled = ${p.add(dialect.bool(lock.enabled))},
        lock_before_retention_days = ${p.add(lock.retentionDays)},
        lock_before_ends_at_ms = ${p.add(lock.endsAtMs)}
      WHERE job_id = ${p.add(jobId)} AND instance_id = ${p.add(instanceId)}
        AND state = 'RUNNING' AND holder = ${p.add(holder)}`,
    values: p.values,
  };
}
