import { Logger } from '@nestjs/common';
import pg from 'pg';
import { databaseLocation } from '../audit/postgres/database-location.js';
import { openSchemaPool } from '../audit/postgres/schema-pool.js';
import type { LockRequest } from '../domain/lock-request.js';
import {
  actionableStatement,
  claimLeaseStatement,
  fromRow,
  getStatement,
  insertStatement,
  listing,
  listStatement,
  updateStatement,
  type LockRequestDialect,
  type LockRequestRow,
  type Statement,
} from './lock-request-sql.js';
import {
  LockRequestStore,
  type LockRequestListing,
  type LockRequestQuery,
} from './lock-request-store.js';

export interface PostgresLockRequestStoreOptions {
  /** Holds a password: never logged. */
  databaseUrl: string;
  migrate: 'auto' | 'off';
}

/** node-postgres reads a bigint as a string: it may not fit a JavaScript number. */
interface StoredRow extends Omit<LockRequestRow, 'lock_ends_at_ms'> {
  lock_ends_at_ms: string | null;
}

const POSTGRES: LockRequestDialect = {
  placeholder: (position) => `$${position}`,
  encode(row, column) {
    // node-postgres would send an array of objects as a PostgreSQL array, not as JSON.
    if (column === 'approvals') return JSON.stringify(row.approvals);
    return row[column];
  },
  groupsOverlap: (param, groups) => `approver_groups && ${param(groups)}::text[]`,
  notDecidedBy: (param, iss, sub) =>
    `NOT approvals @> jsonb_build_array(jsonb_build_object(
       'approverIss', ${param(iss)}::text, 'approverSub', ${param(sub)}::text))`,
};

function decode(row: StoredRow): LockRequest {
  return fromRow({
    ...row,
    // Epoch milliseconds stay far below 2^53.
    lock_ends_at_ms: row.lock_ends_at_ms === null ? null : Number(row.lock_ends_at_ms),
  });
}

/**
 * Lock requests in the PostgreSQL database of the audit trail (AUDIT_DATABASE_URL), shared by
 * every replica. The compare-and-set is one `UPDATE … WHERE id = $1 AND version = $2`: of two
 * replicas racing on one request, the second waits for the first's row lock, then finds the
 * version moved on and writes nothing. The table comes from the audit schema's migrations, run
 * at start under the same advisory lock as the audit store's.
 */
export class PostgresLockRequestStore extends LockRequestStore {
  private readonly logger = new Logger(PostgresLockRequestStore.name);
  private pool: pg.Pool | null = null;

  constructor(private readonly options: PostgresLockRequestStoreOptions) {
    super();
  }

  get location(): string {
    return databaseLocation(this.options.databaseUrl);
  }

  async open(): Promise<void> {
    await this.close();
    // Requests are written a few times in their life and read by people and one background
    // tick: two connections are plenty, and the audit store keeps its own pool.
    this.pool = await openSchemaPool({
      databaseUrl: this.options.databaseUrl,
      migrate: this.options.migrate,
      max: 2,
      onConnectionLost: (error) =>
        this.logger.warn(`lock request database connection lost: ${error.message}`),
    });
  }

  async insert(request: LockRequest): Promise<void> {
    await this.query(insertStatement(POSTGRES, request));
  }

  async get(id: string): Promise<LockRequest | null> {
    const { rows } = await this.query(getStatement(POSTGRES, id));
    return rows.length > 0 ? decode(rows[0]) : null;
  }

  async update(next: LockRequest, expectedVersion: number): Promise<boolean> {
    const { rowCount } = await this.query(updateStatement(POSTGRES, next, expectedVersion));
    return rowCount === 1;
  }

  async list(query: LockRequestQuery, limit: number): Promise<LockRequestListing> {
    const { rows } = await this.query(listStatement(POSTGRES, query, limit));
    return listing(rows.map(decode), limit);
  }

  async listActionable(
    now: string,
    limit: number,
    uncertainBefore: string,
  ): Promise<LockRequest[]> {
    const { rows } = await this.query(actionableStatement(POSTGRES, now, limit, uncertainBefore));
    return rows.map(decode);
  }

  async claimLease(name: string, holder: string, now: string, until: string): Promise<boolean> {
    const { rows } = await this.query(claimLeaseStatement(POSTGRES, { name, holder, now, until }));
    return rows.length === 1;
  }

  async check(): Promise<void> {
    await this.connected().query('SELECT 1 FROM lock_requests LIMIT 1');
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.end();
  }

  private query({ sql, values }: Statement): Promise<pg.QueryResult<StoredRow>> {
    return this.connected().query<StoredRow>(sql, values);
  }

  private connected(): pg.Pool {
    if (!this.pool) throw new Error('the lock request store is not open');
    return this.pool;
  }
}
