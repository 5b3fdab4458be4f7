import { Logger } from '@nestjs/common';
import pg from 'pg';
import { databaseLocation } from '../audit/postgres/database-location.js';
import { openSchemaPool } from '../audit/postgres/schema-pool.js';
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

export interface PostgresBulkJobStoreOptions {
  /** Holds a password: never logged. */
  databaseUrl: string;
  migrate: 'auto' | 'off';
}

const POSTGRES: BulkJobDialect = {
  placeholder: (position) => `$${position}`,
  bool: (value) => value,
  // Two claims in flight at once take two different items, instead of one waiting to lose.
  skipLocked: ' FOR UPDATE SKIP LOCKED',
};

/** Two transactions filled one slot of a job: the second's claim did not happen. */
const UNIQUE_VIOLATION = '23505';

/**
 * Bulk jobs in the PostgreSQL database of the audit trail (AUDIT_DATABASE_URL), shared by every
 * replica. The tables come from the audit schema's migrations, run at start under the same
 * advisory lock as the audit store's.
 */
export class PostgresBulkJobStore extends BulkJobStore {
  private readonly logger = new Logger(PostgresBulkJobStore.name);
  private pool: pg.Pool | null = null;

  constructor(private readonly options: PostgresBulkJobStoreOptions) {
    super();
  }

  get location(): string {
    return databaseLocation(this.options.databaseUrl);
  }

  async open(): Promise<void> {
    await this.close();
    // One connection per item in flight (BULK_CONCURRENCY of them), and one for readers.
    this.pool = await openSchemaPool({
      databaseUrl: this.options.databaseUrl,
      migrate: this.options.migrate,
      max: 4,
      onConnectionLost: (error) =>
        this.logger.warn(`bulk job database connection lost: ${error.message}`),
    });
  }

  async create(job: NewBulkLockJob, instanceIds: readonly string[]): Promise<BulkLockJob> {
    const client = await this.connected().connect();
    try {
      await client.query('BEGIN');
      const keptSince = keyKeptSince(job.createdAt);
      if (job.idempotencyKey !== null) {
        await run(client, releaseKeyStatement(POSTGRES, job, keptSince));
      }
      const inserted = await run(client, insertJobStatement(POSTGRES, job));
      if (inserted.rowCount === 0) {
        await client.query('ROLLBACK');
        return required(await this.job(jobByKeyStatement(POSTGRES, job, keptSince)), job.id);
      }
      await client.query(
        `INSERT INTO bulk_lock_items (job_id, position, instance_id, state)
         SELECT $1, position - 1, instance_id, 'PENDING'
         FROM unnest($2::text[]) WITH ORDINALITY AS listed (instance_id, position)`,
        [job.id, instanceIds],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    return required(await this.get(job.id), job.id);
  }

  async get(id: string): Promise<BulkLockJob | null> {
    return this.job(jobStatement(POSTGRES, id));
  }

  async byIdempotencyKey(
    creatorIss: string,
    creatorSub: string,
    idempotencyKey: string,
    now: string,
  ): Promise<BulkLockJob | null> {
    const owner = { creatorIss, creatorSub, idempotencyKey };
    return this.job(jobByKeyStatement(POSTGRES, owner, keyKeptSince(now)));
  }

  async items(jobId: string): Promise<BulkLockItem[]> {
    const { rows } = await run<BulkItemRow>(this.connected(), itemsStatement(POSTGRES, jobId));
    return rows.map(itemFromRow);
  }

  async unfinished(limit: number, after?: BulkLockJob): Promise<BulkLockJob[]> {
    const { rows } = await run<BulkJobRow>(
      this.connected(),
      unfinishedStatement(POSTGRES, limit, after),
    );
    return rows.map(jobFromRow);
  }

  async claimNext(jobId: string, claim: BulkItemClaim): Promise<BulkLockItem | null> {
    let rows: BulkItemRow[];
    try {
      ({ rows } = await run<BulkItemRow>(
        this.connected(),
        claimNextStatement(POSTGRES, jobId, claim),
      ));
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) return null;
      throw error;
    }
    if (rows.length === 0) return null;
    await run(this.connected(), jobRunningStatement(POSTGRES, jobId));
    return itemFromRow(rows[0]);
  }

  async reclaim(
    jobId: string,
    instanceId: string,
    claim: Omit<BulkItemClaim, 'slot'>,
    now: string,
    sentGraceMs: number,
  ): Promise<BulkLockItem | null> {
    const statement = reclaimStatement(POSTGRES, jobId, instanceId, claim, now, sentGraceMs);
    const { rows } = await run<BulkItemRow>(this.connected(), statement);
    return rows.length === 1 ? itemFromRow(rows[0]) : null;
  }

  async keepLockBefore(
    jobId: string,
    instanceId: string,
    holder: string,
    lock: NonNullable<BulkLockItem['lockBefore']>,
  ): Promise<boolean> {
    const statement = lockBeforeStatement(POSTGRES, jobId, instanceId, holder, lock);
    return (await run(this.connected(), statement)).rowCount === 1;
  }

  async extendClaim(
    jobId: string,
    instanceId: string,
    holder: string,
    until: string,
  ): Promise<boolean> {
    const statement = extendClaimStatement(POSTGRES, jobId, instanceId, holder, until);
    return (await run(this.connected(), statement)).rowCount === 1;
  }

  async leaveUnsettled(
    jobId: string,
    instanceId: string,
    holder: string,
    failure: UnsettledFailure,
    until: string,
  ): Promise<boolean> {
    const statement = extendClaimStatement(POSTGRES, jobId, instanceId, holder, until, failure);
    return (await run(this.connected(), statement)).rowCount === 1;
  }

  async finish(
    jobId: string,
    instanceId: string,
    holder: string,
    outcome: BulkItemOutcome,
  ): Promise<boolean> {
    const statement = finishItemStatement(POSTGRES, jobId, instanceId, holder, outcome);
    return (await run(this.connected(), statement)).rowCount === 1;
  }

  async finishJob(jobId: string): Promise<boolean> {
    return (await run(this.connected(), finishJobStatement(POSTGRES, jobId))).rowCount === 1;
  }

  async check(): Promise<void> {
    await this.connected().query('SELECT 1 FROM bulk_lock_jobs LIMIT 1');
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.end();
  }

  private async job(statement: Statement): Promise<BulkLockJob | null> {
    const { rows } = await run<BulkJobRow>(this.connected(), statement);
    return rows.length > 0 ? jobFromRow(rows[0]) : null;
  }

  private connected(): pg.Pool {
    if (!this.pool) throw new Error('the bulk job store is not open');
    return this.pool;
  }
}

function run<Row extends pg.QueryResultRow = pg.QueryResultRow>(
  client: pg.Pool | pg.PoolClient,
  { sql, values }: Statement,
): Promise<pg.QueryResult<Row>> {
  return client.query<Row>(sql, values);
}

function required(job: BulkLockJob | null, id: string): BulkLockJob {
  if (job === null) throw new Error(`bulk job ${id} was not stored`);
  return job;
}
