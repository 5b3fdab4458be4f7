import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import pg, { type PoolClient } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { Clock } from '../../common/clock.js';
import {
  ChainVerifier,
  openEvent,
  sealRow,
  type ChainHead,
  type SealFields,
  type VerifyResult,
} from '../audit-chain.js';
import {
  CRASHED_ERROR_CODE,
  type AuditAttempt,
  type AuditCompletion,
  type AuditEvent,
} from '../audit-record.js';
import {
  AUDIT_COLUMN_NAMES,
  decodeRow,
  encodeRow,
  SEAL_COLUMN_NAMES,
  type StoredRow,
  verifyStoredRow,
} from '../audit-row.js';
import {
  AuditStore,
  AuditWriteRefused,
  type AuditListing,
  type AuditQuery,
} from '../audit-store.js';
import { settleGroupCommit, type GroupedWrite, type WriteOutcome } from '../group-commit.js';
import { databaseLocation } from './database-location.js';
import { expectCurrentSchema, migrate } from './migrations.js';

export interface PostgresAuditStoreOptions {
  /** Holds a password: never logged. */
  databaseUrl: string;
  migrate: 'auto' | 'off';
  replicaLeaseSeconds: number;
}

/** Transaction-scoped advisory lock that every seal of the chain takes, on every replica. */
export const CHAIN_LOCK = 7_147_002;
/** Rows of one verification query; the chain is read page by page, never whole. */
const VERIFY_PAGE = 1_000;

const INSERT_ROW = `INSERT INTO audit_events (${AUDIT_COLUMN_NAMES.join(', ')}, replica_id)
  VALUES (${AUDIT_COLUMN_NAMES.map((_, i) => `$${i + 1}`).join(', ')}, $${AUDIT_COLUMN_NAMES.length + 1})`;
const SEAL_ROW = `UPDATE audit_events
  SET ${SEAL_COLUMN_NAMES.map((c, i) => `${c} = $${i + 1}`).join(', ')}
  WHERE id = $${SEAL_COLUMN_NAMES.length + 1} AND seq IS NULL`;
const SELECT_ROWS = `SELECT ${AUDIT_COLUMN_NAMES.join(', ')} FROM audit_events`;
const CHAIN_HEAD = `SELECT seq, hash FROM audit_events
  WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1`;
/** Open rows whose replica holds no live lease: its process is gone (or was never seen). */
const ORPHANED_ROWS = `${SELECT_ROWS} e WHERE seq IS NULL AND e.replica_id <> $1 AND NOT EXISTS (
    SELECT 1 FROM audit_replicas r WHERE r.replica_id = e.replica_id AND r.lease_until > now()
  ) ORDER BY id FOR UPDATE`;
const RENEW_LEASE = `INSERT INTO audit_replicas (replica_id, lease_until)
  VALUES ($1, now() + make_interval(secs => $2))
  ON CONFLICT (replica_id) DO UPDATE SET lease_until = excluded.lease_until`;
/** A replica that stops cleanly gives its lease up, so its leftovers need not wait for it to run out. */
const RELEASE_LEASE = 'UPDATE audit_replicas SET lease_until = now() WHERE replica_id = $1';
const FORGET_GONE_REPLICAS = `DELETE FROM audit_replicas r WHERE lease_until <= now()
  AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.replica_id = r.replica_id AND e.seq IS NULL)`;

interface PendingWrite extends GroupedWrite {
  /** Takes the chain lock: the write assigns a seq. */
  seals: boolean;
  work: (tx: SealingTransaction) => Promise<unknown>;
}

/** One transaction of the group commit; holds the chain lock when any write in it seals. */
class SealingTransaction {
  constructor(
    readonly client: PoolClient,
    /** The chain's last sealed row as this transaction has extended it. */
    public head: ChainHead | null,
  ) {}

  /** Whether this transaction has renewed the replica's lease (once is enough). */
  leaseRenewed = false;

  /** Seals `open` after the head, and moves the head onto it. */
  seal(open: AuditEvent, completion: SealFields, at: string): AuditEvent {
    const sealed = sealRow(open, this.head, completion, at);
    this.head = { seq: sealed.seq as number, hash: sealed.hash as string };
    return sealed;
  }
}

/**
 * The audit trail in PostgreSQL, shared by every replica. Sealing takes a transaction-scoped
 * advisory lock and reads the head inside it, so the chain is extended by one transaction at a
 * time across all replicas. Each replica has one transaction in flight at a time, and the writes
 * asked for meanwhile share the next one (group commit).
 *
 * Every row carries its replica's id; each replica holds a lease in `audit_replicas`, renewed by
 * a heartbeat. Reconciling (at start and periodically) closes only the open rows of replicas
 * whose lease has run out: never those that a live replica may still seal.
 */
export class PostgresAuditStore extends AuditStore {
  /** One per process start: a restarted gateway is a new replica. */
  readonly replicaId = randomUUID();
  private readonly logger = new Logger(PostgresAuditStore.name);
  private pool: pg.Pool | null = null;
  private closing = false;
  /** Holds a lease: opened for writing. */
  private leased = false;
  private pending: PendingWrite[] = [];
  private flushing: Promise<void> | null = null;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly options: PostgresAuditStoreOptions,
    private readonly clock = new Clock(),
  ) {
    super();
  }

  /** The database's address without user, password or parameters. */
  get location(): string {
    return databaseLocation(this.options.databaseUrl);
  }

  async open(mode: 'readwrite' | 'readonly'): Promise<void> {
    await this.close();
    this.closing = false;
    const pool = new pg.Pool({
      connectionString: this.options.databaseUrl,
      max: 4,
      connectionTimeoutMillis: 3_000,
      // A hung lock or a lost connection fails the write (503) instead of holding a request.
      statement_timeout: 10_000,
      application_name: 'vault-lock-gateway',
      options: mode === 'readonly' ? '-c default_transaction_read_only=on' : undefined,
    });
    // An idle connection that breaks (the server restarted) is replaced on the next checkout.
    pool.on('error', (error) =>
      this.logger.warn(`audit database connection lost: ${error.message}`),
    );
    try {
      const client = await pool.connect();
      try {
        if (mode === 'readwrite' && this.options.migrate === 'auto') {
          const applied = await migrate(client);
          if (applied.length > 0) this.logger.log(`audit schema migrated: ${applied.join(', ')}`);
        }
        await expectCurrentSchema(client);
        if (mode === 'readwrite') await this.renewLease(client);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end();
      throw error;
    }
    this.pool = pool;
    this.leased = mode === 'readwrite';
    if (this.leased) this.startBackgroundWork();
  }

  async close(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    this.closing = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    // Writes already asked for are committed, not dropped: on shutdown a seal may still be queued.
    await this.flushing;
    if (this.leased) {
      await pool
        .query(RELEASE_LEASE, [this.replicaId])
        .catch((error: Error) =>
          this.logger.warn(`audit replica lease not given up: ${error.message}`),
        );
    }
    this.pool = null;
    await pool.end();
  }

  recordAttempt(attempt: AuditAttempt, at: string): Promise<string> {
    const open = openEvent(attempt, uuidv7(), at);
    return this.groupCommit(false, async (tx) => {
      // The open row and a live lease become visible together: after an outage longer than the
      // lease, another replica's reconcile must not take a row whose PUT is about to be sent
      // for a row of a replica that is gone.
      if (!tx.leaseRenewed) {
        await tx.client.query(RENEW_LEASE, [this.replicaId, this.options.replicaLeaseSeconds]);
        tx.leaseRenewed = true;
      }
      await tx.client.query(INSERT_ROW, this.insertValues(open));
      return open.id;
    });
  }

  complete(id: string, completion: AuditCompletion, at: string): Promise<void> {
    return this.groupCommit(true, async (tx) => {
      const { rows } = await tx.client.query<StoredRow>(
        `${SELECT_ROWS} WHERE id = $1 AND seq IS NULL FOR UPDATE`,
        [id],
      );
      if (rows.length === 0) throw new AuditWriteRefused(`audit row ${id} is not an open attempt`);
      await this.sealOpen(tx, decodeRow(rows[0]), completion, at);
    });
  }

  recordSealed(attempt: AuditAttempt, completion: AuditCompletion, at: string): Promise<string> {
    const open = openEvent(attempt, uuidv7(), at);
    return this.groupCommit(true, async (tx) => {
      const sealed = tx.seal(open, completion, at);
      await tx.client.query(INSERT_ROW, this.insertValues(sealed));
      return sealed.id;
    });
  }

  async reconcileOpenAttempts(at: string): Promise<number> {
    return this.inTransaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
      const tx = new SealingTransaction(client, await this.head(client));
      // Never this replica's own rows: it is alive, whatever its lease says.
      const { rows } = await client.query<StoredRow>(ORPHANED_ROWS, [this.replicaId]);
      for (const row of rows) {
        await this.sealOpen(
          tx,
          decodeRow(row),
          { outcome: 'unknown', errorCode: CRASHED_ERROR_CODE, durationMs: null },
          at,
        );
      }
      await client.query(FORGET_GONE_REPLICAS);
      return rows.length;
    });
  }

  async list(query: AuditQuery, limit: number): Promise<AuditListing> {
    const conditions: [column: string, operator: string, value: string | undefined][] = [
      ['project_id', '=', query.projectId],
      ['instance_id', '=', query.instanceId],
      ['outcome', '=', query.outcome],
      ['lock_request_id', '=', query.lockRequestId],
      ['started_at', '>=', query.since],
      ['started_at', '<', query.until],
      ['id', '<', query.beforeId],
    ];
    const applied = conditions.filter((c): c is [string, string, string] => c[2] !== undefined);
    const where = applied.map(([column, operator], i) => `${column} ${operator} $${i + 1}`);
    const { rows } = await this.connected().query<StoredRow>(
      `${SELECT_ROWS} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT $${applied.length + 1}`,
      [...applied.map(([, , value]) => value), limit + 1],
    );
    return { events: rows.slice(0, limit).map((row) => decodeRow(row)), more: rows.length > limit };
  }

  async verify(): Promise<VerifyResult> {
    const pool = this.connected();
    const verifier = new ChainVerifier();
    let after = Number.MIN_SAFE_INTEGER;
    for (;;) {
      const { rows } = await pool.query<StoredRow>(
        `${SELECT_ROWS} WHERE seq > $1 ORDER BY seq LIMIT ${VERIFY_PAGE}`,
        [after],
      );
      for (const row of rows) {
        const event = verifyStoredRow(verifier, row);
        if (!event) return verifier.result();
        after = event.seq as number;
      }
      if (rows.length < VERIFY_PAGE) return verifier.result();
    }
  }

  /** Readiness: renewing the lease is a real write. */
  async checkWritable(): Promise<void> {
    await this.connected().query(RENEW_LEASE, [this.replicaId, this.options.replicaLeaseSeconds]);
  }

  /** A lost connection is replaced by the pool: nothing here needs a restart to recover. */
  isAlive(): boolean {
    return true;
  }

  private startBackgroundWork(): void {
    const leaseMs = this.options.replicaLeaseSeconds * 1_000;
    const heartbeat = setInterval(() => {
      this.checkWritable().catch((error: unknown) =>
        this.logger.warn(`audit replica lease not renewed: ${(error as Error).message}`),
      );
    }, leaseMs / 3);
    // A replica that died leaves open rows behind; a survivor closes them once its lease is over.
    const reconcile = setInterval(() => {
      this.reconcileOpenAttempts(this.clock.now().toISOString()).then(
        (closed) => {
          if (closed > 0)
            this.logger.warn(`${closed} open attempt(s) of a gone replica closed as unknown`);
        },
        (error: unknown) => this.logger.warn(`audit reconcile failed: ${(error as Error).message}`),
      );
    }, leaseMs);
    for (const timer of [heartbeat, reconcile]) timer.unref();
    this.timers.push(heartbeat, reconcile);
  }

  private async renewLease(client: PoolClient): Promise<void> {
    await client.query(RENEW_LEASE, [this.replicaId, this.options.replicaLeaseSeconds]);
  }

  private connected(): pg.Pool {
    if (!this.pool) throw new Error('the audit store is not open');
    return this.pool;
  }

  private insertValues(event: AuditEvent): unknown[] {
    const row = encodeRow(event, 'boolean');
    return [...AUDIT_COLUMN_NAMES.map((column) => row[column]), this.replicaId];
  }

  private async sealOpen(
    tx: SealingTransaction,
    open: AuditEvent,
    completion: SealFields,
    at: string,
  ): Promise<void> {
    const row = encodeRow(tx.seal(open, completion, at), 'boolean');
    await tx.client.query(SEAL_ROW, [...SEAL_COLUMN_NAMES.map((column) => row[column]), open.id]);
  }

  private async head(client: PoolClient): Promise<ChainHead | null> {
    const { rows } = await client.query<{ seq: string; hash: string }>(CHAIN_HEAD);
    return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : null;
  }

  private async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connected().connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      // A connection whose rollback failed is in an unknown state: it is closed, not reused.
      client.release(broken);
    }
  }

  /**
   * Group commit: the writes asked for while a transaction is in flight are applied together in
   * the next one, which takes the chain lock once for all of them when any of them seals. A write
   * refused for what it asks leaves the others in place; when the server rejects a statement,
   * each write of the batch is tried again on its own, so that one bad write does not fail the
   * rest.
   * No promise resolves before the commit that made its row durable.
   */
  private groupCommit<T>(seals: boolean, work: (tx: SealingTransaction) => Promise<T>): Promise<T> {
    if (!this.pool || this.closing) return Promise.reject(new Error('the audit store is not open'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ seals, work, resolve: resolve as (value: unknown) => void, reject });
      this.flushing ??= new Promise(setImmediate).then(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await this.commit(batch);
    }
    this.flushing = null;
  }

  private async commit(batch: PendingWrite[]): Promise<void> {
    const outcomes: WriteOutcome[] = [];
    try {
      await this.inTransaction(async (client) => {
        let head: ChainHead | null = null;
        if (batch.some((write) => write.seals)) {
          // Taken before any row lock, as reconciling does, so the two cannot deadlock.
          await client.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
          head = await this.head(client);
        }
        const tx = new SealingTransaction(client, head);
        for (const write of batch) {
          try {
            outcomes.push({ value: await write.work(tx) });
          } catch (error) {
            if (!(error instanceof AuditWriteRefused)) throw error;
            outcomes.push({ error });
          }
        }
      });
    } catch (error) {
      if (batch.length > 1 && rejectedStatement(error)) {
        for (const write of batch) await this.commit([write]);
      } else {
        for (const write of batch) write.reject(error);
      }
      return;
    }
    settleGroupCommit(this.onCommit, batch, outcomes);
  }
}

/**
 * The server refused one of the batch's statements (a constraint, say), as opposed to the
 * connection or the server failing (classes 08 and 57P), which a retry of each write would only
 * meet again, one timeout after another.
 */
function rejectedStatement(error: unknown): boolean {
  return error instanceof pg.DatabaseError && !/^(08|57P)/.test(error.code ?? '');
}
