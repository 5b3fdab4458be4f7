import Database from 'better-sqlite3';
import type { BulkItemOutcome, BulkLockItem, BulkLockJob } from '../domain/bulk-lock-job.js';
import {
  claimNextStatement,
  finishItemStatement,
  finishJobStatement,
  insertJobStatement,
  itemFromRow,
  itemsStatement,
  jobByKeyStatement,
  keyKeptSince,
  releaseKeyStatement,
  jobFromRow,
  jobRunningStatement,
  jobStatement,
  extendClaimStatement,
  lockBeforeStatement,
  reclaimStatement,
  unfinishedStatement,
  type BulkItemRow,
  type BulkJobDialect,
  type BulkJobRow,
  type Statement,
} from './bulk-job-sql.js';
import {
  BulkJobStore,
  type BulkItemClaim,
  type NewBulkLockJob,
  type UnsettledFailure,
} from './bulk-job-store.js';
import { openSqliteFile } from '../audit/sqlite-file.js';

const ISO_TIME =
  "GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'";

/**
 * STRICT keeps every value the type it was written with. The unique index on the slots of
 * RUNNING items is what bounds a job's concurrency across processes; the partial index on open
 * jobs keeps the runner's look-up small however many jobs have finished.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS bulk_lock_jobs (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'FINISHED')),
  project_id TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('enable', 'extend')),
  retention_days INTEGER NOT NULL CHECK (retention_days >= 1),
  dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
  creator_iss TEXT NOT NULL,
  creator_sub TEXT NOT NULL,
  creator_groups TEXT NOT NULL
    CHECK (json_valid(creator_groups) AND json_type(creator_groups) = 'array'),
  channel TEXT NOT NULL CHECK (channel IN ('graphql', 'rest')),
  caller_address TEXT NOT NULL,
  request_id TEXT NOT NULL,
  idempotency_key TEXT,
  fingerprint TEXT NOT NULL,
  created_at TEXT NOT NULL CHECK (created_at ${ISO_TIME}),
  UNIQUE (creator_iss, creator_sub, idempotency_key)
) STRICT;
CREATE INDEX IF NOT EXISTS bulk_lock_jobs_open ON bulk_lock_jobs (created_at, id)
  WHERE state <> 'FINISHED';
CREATE TABLE IF NOT EXISTS bulk_lock_items (
  job_id TEXT NOT NULL REFERENCES bulk_lock_jobs (id),
  position INTEGER NOT NULL CHECK (position >= 0),
  instance_id TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'DENIED',
    'PENDING_APPROVAL', 'SCHEDULED')),
  result TEXT,
  error_code TEXT,
  audit_id TEXT,
  lock_request_id TEXT,
  lock_before_enabled INTEGER CHECK (lock_before_enabled IN (0, 1)),
  lock_before_retention_days INTEGER,
  lock_before_ends_at_ms INTEGER,
  holder TEXT,
  claim_until TEXT CHECK (claim_until ${ISO_TIME}),
  slot INTEGER CHECK (slot >= 0),
  PRIMARY KEY (job_id, position),
  UNIQUE (job_id, instance_id),
  CHECK ((state = 'RUNNING') = (holder IS NOT NULL AND claim_until IS NOT NULL AND slot IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS bulk_lock_items_slots ON bulk_lock_items (job_id, slot)
  WHERE state = 'RUNNING';
CREATE INDEX IF NOT EXISTS bulk_lock_items_open ON bulk_lock_items (job_id, state, position)
  WHERE state IN ('PENDING', 'RUNNING');
`;

const SQLITE_DIALECT: BulkJobDialect = {
  placeholder: () => '?',
  bool: (value) => (value ? 1 : 0),
  // SQLite runs one write at a time: no other claim can hold a row meanwhile.
  skipLocked: '',
};

/**
 * Bulk jobs in the SQLite file of the audit trail (AUDIT_SQLITE_PATH), on a connection of their
 * own, like the lock requests: WAL, `synchronous=FULL`, and every compare-and-set one statement
 * under SQLite's write lock, so it holds across connections and processes on the same file.
 * Writes are a few per item (claim, finish), far fewer than the audit rows each item writes.
 */
export class SqliteBulkJobStore extends BulkJobStore {
  private db: Database.Database | null = null;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly sqlitePath: string) {
    super();
  }

  get location(): string {
    return this.sqlitePath;
  }

  async open(): Promise<void> {
    await this.close();
    this.db = openSqliteFile(this.sqlitePath, 'readwrite', SCHEMA);
  }

  async create(job: NewBulkLockJob, instanceIds: readonly string[]): Promise<BulkLockJob> {
    const insertItem = this.statement(
      'INSERT INTO bulk_lock_items (job_id, position, instance_id, state) VALUES (?, ?, ?, ?)',
    );
    const stored = this.connected()
      .transaction(() => {
        const keptSince = keyKeptSince(job.createdAt);
        if (job.idempotencyKey !== null) {
          this.run(releaseKeyStatement(SQLITE_DIALECT, job, keptSince));
        }
        if (this.run(insertJobStatement(SQLITE_DIALECT, job)) === 0) {
          return this.job(jobByKeyStatement(SQLITE_DIALECT, job, keptSince));
        }
        instanceIds.forEach((instanceId, position) =>
          insertItem.run(job.id, position, instanceId, 'PENDING'),
        );
        return this.job(jobStatement(SQLITE_DIALECT, job.id));
      })
      .immediate();
    if (stored === null) throw new Error(`bulk job ${job.id} was not stored`);
    return stored;
  }

  async get(id: string): Promise<BulkLockJob | null> {
    return this.job(jobStatement(SQLITE_DIALECT, id));
  }

  async byIdempotencyKey(
    creatorIss: string,
    creatorSub: string,
    idempotencyKey: string,
    now: string,
  ): Promise<BulkLockJob | null> {
    const owner = { creatorIss, creatorSub, idempotencyKey };
    return this.job(jobByKeyStatement(SQLITE_DIALECT, owner, keyKeptSince(now)));
  }

  async items(jobId: string): Promise<BulkLockItem[]> {
    const { sql, values } = itemsStatement(SQLITE_DIALECT, jobId);
    return (this.statement(sql).all(...values) as BulkItemRow[]).map(itemFromRow);
  }

  async unfinished(limit: number, after?: BulkLockJob): Promise<BulkLockJob[]> {
    const { sql, values } = unfinishedStatement(SQLITE_DIALECT, limit, after);
    return (this.statement(sql).all(...values) as BulkJobRow[]).map(jobFromRow);
  }

  async claimNext(jobId: string, claim: BulkItemClaim): Promise<BulkLockItem | null> {
    const { sql, values } = claimNextStatement(SQLITE_DIALECT, jobId, claim);
    const row = this.statement(sql).get(...values) as BulkItemRow | undefined;
    if (row === undefined) return null;
    this.run(jobRunningStatement(SQLITE_DIALECT, jobId));
    return itemFromRow(row);
  }

  async reclaim(
    jobId: string,
    instanceId: string,
    claim: Omit<BulkItemClaim, 'slot'>,
    now: string,
    sentGraceMs: number,
  ): Promise<BulkLockItem | null> {
    const { sql, values } = reclaimStatement(
      SQLITE_DIALECT,
      jobId,
      instanceId,
      claim,
      now,
      sentGraceMs,
    );
    const row = this.statement(sql).get(...values) as BulkItemRow | undefined;
    return row === undefined ? null : itemFromRow(row);
  }

  async keepLockBefore(
    jobId: string,
    instanceId: string,
    holder: string,
    lock: NonNullable<BulkLockItem['lockBefore']>,
  ): Promise<boolean> {
    const statement = lockBeforeStatement(SQLITE_DIALECT, jobId, instanceId, holder, lock);
    return this.run(statement) === 1;
  }

  async extendClaim(
    jobId: string,
    instanceId: string,
    holder: string,
    until: string,
  ): Promise<boolean> {
    return this.run(extendClaimStatement(SQLITE_DIALECT, jobId, instanceId, holder, until)) === 1;
  }

  async leaveUnsettled(
    jobId: string,
    instanceId: string,
    holder: string,
    failure: UnsettledFailure,
    until: string,
  ): Promise<boolean> {
    const statement = extendClaimStatement(
      SQLITE_DIALECT,
      jobId,
      instanceId,
      holder,
      until,
      failure,
    );
    return this.run(statement) === 1;
  }

  async finish(
    jobId: string,
    instanceId: string,
    holder: string,
    outcome: BulkItemOutcome,
  ): Promise<boolean> {
    const statement = finishItemStatement(SQLITE_DIALECT, jobId, instanceId, holder, outcome);
    return this.run(statement) === 1;
  }

  async finishJob(jobId: string): Promise<boolean> {
    return this.run(finishJobStatement(SQLITE_DIALECT, jobId)) === 1;
  }

  async check(): Promise<void> {
    this.statement('SELECT 1 FROM bulk_lock_jobs LIMIT 1').get();
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db?.close();
    this.db = null;
  }

  private job({ sql, values }: Statement): BulkLockJob | null {
    const row = this.statement(sql).get(...values) as BulkJobRow | undefined;
    return row === undefined ? null : jobFromRow(row);
  }

  private run({ sql, values }: Statement): number {
    return this.statement(sql).run(...values).changes;
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.connected().prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private connected(): Database.Database {
    if (!this.db) throw new Error('the bulk job store is not open');
    return this.db;
  }
}
