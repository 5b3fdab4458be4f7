import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import pg, { type PoolClient } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { Clock } from '../../common/clock.js';
import { setOldestOut } from '../../common/oldest-out.js';
import { GwCode } from '../../common/gateway-error.js';
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
  AUDIT_COLUMN_TABLE,
  type AuditAttempt,
  type AuditColumn,
  type AuditColumnType,
  type AuditCompletion,
  type AuditEvent,
} from '../audit-record.js';
import {
  AUDIT_COLUMN_LIST,
  AUDIT_COLUMN_NAMES,
  decodeRow,
  encodeRow,
  SEAL_COLUMN_LIST,
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
import {
  GroupCommitQueue,
  settleGroupCommit,
  type GroupedWrite,
  type WriteOutcome,
} from '../group-commit.js';
import { databaseLocation } from './database-location.js';
import { expectCurrentSchema, migrate } from './migrations.js';
import { reportConnectionLosses } from './connection-losses.js';

export interface PostgresAuditStoreOptions {
  /** Holds a password: never logged. */
  databaseUrl: string;
  migrate: 'auto' | 'off';
  replicaLeaseSeconds: number;
}

/**
 * How long a row given up by its own call is remembered for the reconcile: longer than any
 * statement may run (`statement_timeout`), so that a write still under way when it was given up
 * has landed or failed by the time the row is forgotten.
 */
const GIVEN_UP_KEPT_MS = 60_000;
/**
 * While the database is away every call gives its row up; past this many the oldest is forgotten
 * (and, should its row exist, closed as `unknown`), so that an outage cannot fill the heap.
 */
const GIVEN_UP_MAX = 10_000;

/** What a row given up by its own call is sealed with, and when that call gave it up. */
interface GivenUpRow {
  completion: SealFields;
  at: string;
  givenUpMs: number;
}

/** A row whose writer is gone: what its call came to is not known. */
const CRASHED: SealFields = { outcome: 'unknown', errorCode: CRASHED_ERROR_CODE, durationMs: null };

/** Transaction-scoped advisory lock that every seal of the chain takes, on every replica. */
export const CHAIN_LOCK = 7_147_002;
/** Rows of one verification query; the chain is read page by page, never whole. */
const VERIFY_PAGE = 1_000;
/**
 * Commits of open attempts in flight at once. They take no chain lock, so they run beside each
 * other and beside the one sealing commit; PostgreSQL flushes concurrent commits together.
 */
const ATTEMPT_COMMITS_IN_FLIGHT = 2;

/** The array type a column's values are unnested from. */
const ARRAY_TYPE: Readonly<Record<AuditColumnType, string>> = {
  text: 'text[]',
  integer: 'bigint[]',
  boolean: 'boolean[]',
  json: 'text[]',
};

/**
 * A stored value as an SQL literal, text through the driver's `escapeLiteral`. The batch
 * statements carry their values as literals rather than parameters because a query of several
 * statements (one round trip) cannot take parameters.
 */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return pg.escapeLiteral(String(value));
}

/** `unnest(ARRAY[…]::text[], …) AS alias(column, …)`: one row per event, with `columns`. */
function unnestRows(events: readonly AuditEvent[], columns: readonly AuditColumn[], alias: string) {
  const rows = events.map((event) => encodeRow(event, 'boolean'));
  const arrays = columns.map(
    (column) =>
      `ARRAY[${rows.map((row) => literal(row[column.name])).join(', ')}]::${ARRAY_TYPE[column.type]}`,
  );
  return `unnest(${arrays.join(', ')}) AS ${alias}(${columns.map((c) => c.name).join(', ')})`;
}

const AUDIT_COLUMNS_SQL = AUDIT_COLUMN_NAMES.join(', ');
/** Many rows in one statement, with the replica that wrote them. */
const insertRows = (events: readonly AuditEvent[], replicaId: string) =>
  `INSERT INTO audit_events (${AUDIT_COLUMNS_SQL}, replica_id)
  SELECT ${AUDIT_COLUMNS_SQL}, ${literal(replicaId)}
  FROM ${unnestRows(events, AUDIT_COLUMN_LIST, 'given')}`;
/**
 * Open attempts in one autocommitted statement, with the replica's lease renewed in the same
 * transaction whenever less than half of it is left: an open row becomes visible only with a
 * live lease, so that after an outage longer than the lease no other replica's reconcile takes
 * a row whose PUT is about to be sent. A fresh lease is only read, never locked, so concurrent
 * commits of attempts do not queue on the replica's lease row.
 */
const insertOpenRows = (events: readonly AuditEvent[], replicaId: string, leaseSeconds: number) =>
  `WITH renewed AS (
    INSERT INTO audit_replicas (replica_id, lease_until)
    SELECT ${literal(replicaId)}, now() + make_interval(secs => ${literal(leaseSeconds)})
    WHERE NOT EXISTS (SELECT 1 FROM audit_replicas WHERE replica_id = ${literal(replicaId)}
      AND lease_until > now() + make_interval(secs => ${literal(leaseSeconds)} / 2.0))
    ON CONFLICT (replica_id) DO UPDATE SET lease_until = excluded.lease_until
  )
  ${insertRows(events, replicaId)}`;
/** SQLSTATE of `audit_assume`: an assumption of a sealing transaction sent whole did not hold. */
const ASSUMPTION_FAILED = 'VLG01';
/**
 * Seals many open rows in one statement, under the chain lock. Every one of them must still be
 * open, or the transaction fails (`audit_assume`): a row missing from the chain would break it.
 */
const sealRows = (events: readonly AuditEvent[]) => `WITH sealed_rows AS (UPDATE audit_events e
    SET ${SEAL_COLUMN_NAMES.map((c) => `${c} = sealed.${c}`).join(', ')}
    FROM ${unnestRows(events, [AUDIT_COLUMN_TABLE.id, ...SEAL_COLUMN_LIST], 'sealed')}
    WHERE e.id = sealed.id AND e.seq IS NULL
    RETURNING e.id)
  SELECT audit_assume(count(*) = ${events.length}, 'every row sealed is open') FROM sealed_rows`;
const SELECT_ROWS = `SELECT ${AUDIT_COLUMNS_SQL} FROM audit_events`;
const CHAIN_HEAD = `SELECT seq, hash FROM audit_events
  WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1`;
/**
 * Opens a sealing transaction. The head (and the rows to seal) are read by statements of their
 * own after the lock is granted: under READ COMMITTED each statement sees the commits made before
 * it started, so they see the seals of the transaction that held the lock before.
 */
const LOCK_CHAIN = `BEGIN; SELECT pg_advisory_xact_lock(${CHAIN_LOCK})`;
const BEGIN_SEALING = `${LOCK_CHAIN}; ${CHAIN_HEAD}`;
/** Fails the transaction unless `head` is still the chain's head. */
const assumeHead = (head: ChainHead) =>
  `SELECT audit_assume((${literal(head.seq)}, ${literal(head.hash)}) = (${CHAIN_HEAD}),
    ${literal(`the head is seq ${head.seq}`)})`;
/** The open rows that `batch` seals, locked for sealing; null when it seals none. */
function openRowsForUpdate(batch: readonly PendingSeal[]): string | null {
  const ids = batch.flatMap((write) => (write.id === undefined ? [] : [literal(write.id)]));
  if (ids.length === 0) return null;
  return `${SELECT_ROWS} WHERE id IN (${ids.join(', ')}) AND seq IS NULL FOR UPDATE`;
}
/**
 * Open rows that no live replica may still seal: those of replicas holding no live lease (their
 * process is gone, or was never seen), and this replica's own, of which it keeps those in hand.
 */
const orphanedRows = (ownReplicaId: string) => `${SELECT_ROWS} e
  WHERE seq IS NULL AND (e.replica_id = ${literal(ownReplicaId)} OR NOT EXISTS (
    SELECT 1 FROM audit_replicas r WHERE r.replica_id = e.replica_id AND r.lease_until > now()
  )) ORDER BY id FOR UPDATE`;
const RENEW_LEASE = `INSERT INTO audit_replicas (replica_id, lease_until)
  VALUES ($1, now() + make_interval(secs => $2))
  ON CONFLICT (replica_id) DO UPDATE SET lease_until = excluded.lease_until`;
/** A replica that stops cleanly gives its lease up, so its leftovers need not wait for it to run out. */
const RELEASE_LEASE = 'UPDATE audit_replicas SET lease_until = now() WHERE replica_id = $1';
const FORGET_GONE_REPLICAS = `DELETE FROM audit_replicas r WHERE lease_until <= now()
  AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.replica_id = r.replica_id AND e.seq IS NULL)`;

/** An open attempt waiting for its commit. */
interface PendingAttempt extends GroupedWrite {
  open: AuditEvent;
}

/**
 * A write that extends the chain: seals the open row `id` (`recorded` when this replica wrote it
 * and still holds it), or writes `open` sealed in one step.
 */
type PendingSeal = GroupedWrite & { completion: SealFields; at: string } & (
    | { id: string; recorded?: AuditEvent; open?: undefined }
    | { id?: undefined; recorded?: undefined; open: AuditEvent }
  );

/** One transaction holding the chain lock; the head as the transaction has extended it. */
class SealingTransaction {
  /** Sealed by this transaction: the rows to update, and those to insert sealed. */
  private readonly sealedOpenRows: AuditEvent[] = [];
  private readonly sealedNewRows: AuditEvent[] = [];

  constructor(private extendedHead: ChainHead | null) {}

  get head(): ChainHead | null {
    return this.extendedHead;
  }

  /** The statements that write what this transaction has sealed: one per kind of row. */
  writes(replicaId: string): string[] {
    return [
      ...(this.sealedOpenRows.length > 0 ? [sealRows(this.sealedOpenRows)] : []),
      ...(this.sealedNewRows.length > 0 ? [insertRows(this.sealedNewRows, replicaId)] : []),
    ];
  }

  /** Seals `open` after the head, and moves the head onto it. */
  seal(open: AuditEvent, completion: SealFields, at: string, isNew: boolean): AuditEvent {
    const sealed = sealRow(open, this.extendedHead, completion, at);
    this.extendedHead = { seq: sealed.seq as number, hash: sealed.hash as string };
    (isNew ? this.sealedNewRows : this.sealedOpenRows).push(sealed);
    return sealed;
  }
}

/**
 * The audit trail in PostgreSQL, shared by every replica. Sealing takes a transaction-scoped
 * advisory lock and reads the head inside it, so the chain is extended by one transaction at a
 * time across all replicas. Each replica has one sealing transaction in flight at a time, and the
 * seals asked for meanwhile share the next one (group commit); open attempts, which take no chain
 * lock, are committed the same way on other connections, beside the seals.
 *
 * While a replica is the chain's only writer, a seal takes one round trip instead of two: the
 * replica knows the head (it wrote it) and the open rows (it recorded them), so it sends the
 * whole transaction at once, and the database checks both assumptions under the chain lock.
 *
 * Every row carries its replica's id; each replica holds a lease in `audit_replicas`, renewed by
 * a heartbeat. Reconciling (at start and periodically) closes the open rows of replicas whose
 * lease has run out, and this replica's own that it no longer holds (their seal failed): never
 * those that a live replica may still seal.
 */
export class PostgresAuditStore extends AuditStore {
  /** One per process start: a restarted gateway is a new replica. */
  readonly replicaId = randomUUID();
  private readonly logger = new Logger(PostgresAuditStore.name);
  private pool: pg.Pool | null = null;
  private closing = false;
  /** Holds a lease: opened for writing. */
  private leased = false;
  private readonly attempts = new GroupCommitQueue<PendingAttempt>(
    ATTEMPT_COMMITS_IN_FLIGHT,
    (batch) => this.commitAttempts(batch),
  );
  /** One sealing commit at a time: the next would only wait for the chain lock. */
  private readonly seals = new GroupCommitQueue<PendingSeal>(1, (batch) => this.commitSeals(batch));
  private readonly timers: NodeJS.Timeout[] = [];
  /**
   * The rows this replica is writing or has written open and not yet sealed, by id: from the
   * moment their attempt is sent until their seal is settled. Its own reconcile leaves these
   * alone and closes any other open row of its.
   */
  private readonly rowsInHand = new Map<string, AuditEvent>();
  /**
   * Rows this replica's calls gave up on a write that failed, which may nonetheless have been
   * committed: an attempt whose caller was refused (nothing was sent upstream) and a seal whose
   * outcome the call knew. Its reconcile seals such a row with what its call knew, not `unknown`.
   */
  private readonly givenUp = new Map<string, GivenUpRow>();
  /** The head as this replica's last sealing transaction left it; unknown after a failure. */
  private lastHead: ChainHead | null | undefined;
  /** No other writer extended the chain between this replica's last two sealing transactions. */
  private soleWriter = false;

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
    // What the last pool's transactions told this replica about the chain is not carried over.
    this.lastHead = undefined;
    this.soleWriter = false;
    const pool = new pg.Pool({
      connectionString: this.options.databaseUrl,
      // The sealing commit, the attempts' commits, and room for reads, the heartbeat and reconcile.
      max: ATTEMPT_COMMITS_IN_FLIGHT + 3,
      connectionTimeoutMillis: 3_000,
      // A hung lock or a lost connection fails the write (503) instead of holding a request.
      statement_timeout: 10_000,
      application_name: 'vault-lock-gateway',
      options: mode === 'readonly' ? '-c default_transaction_read_only=on' : undefined,
    });
    // An idle connection that breaks (the server restarted) is replaced on the next checkout.
    reportConnectionLosses(pool, (error) =>
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
    await Promise.all([this.attempts.drained(), this.seals.drained()]);
    if (this.leased) {
      await pool
        .query(RELEASE_LEASE, [this.replicaId])
        .catch((error: Error) =>
          this.logger.warn(`audit replica lease not given up: ${error.message}`),
        );
    }
    this.pool = null;
    this.rowsInHand.clear();
    this.givenUp.clear();
    await pool.end();
  }

  recordAttempt(attempt: AuditAttempt, at: string): Promise<string> {
    const open = openEvent(attempt, uuidv7(), at);
    this.rowsInHand.set(open.id, open);
    return this.enqueue(this.attempts, { open }).then(
      () => open.id,
      (error: unknown) => {
        // Committed or not, the caller gives it up and sends nothing: if the row is there, the
        // next reconcile seals it as failed with the answer the caller had.
        this.rowsInHand.delete(open.id);
        this.giveUp(
          open.id,
          { outcome: 'failed', errorCode: GwCode.AUDIT_UNAVAILABLE, durationMs: null },
          this.clock.now().toISOString(),
        );
        throw error;
      },
    );
  }

  /**
   * A seal that fails leaves its row open and no longer in hand: this replica's next periodic
   * reconcile seals it with the outcome it was to record, rather than its stop.
   */
  complete(id: string, completion: AuditCompletion, at: string): Promise<void> {
    const recorded = this.rowsInHand.get(id);
    return this.enqueue(this.seals, { id, recorded, completion, at })
      .then(
        () => undefined,
        (error: unknown) => {
          if (!(error instanceof AuditWriteRefused)) this.giveUp(id, completion, at);
          throw error;
        },
      )
      .finally(() => this.rowsInHand.delete(id));
  }

  private giveUp(id: string, completion: SealFields, at: string): void {
    setOldestOut(this.givenUp, GIVEN_UP_MAX, id, { completion, at, givenUpMs: this.clock.nowMs() });
  }

  recordSealed(attempt: AuditAttempt, completion: AuditCompletion, at: string): Promise<string> {
    const open = openEvent(attempt, uuidv7(), at);
    return this.enqueue(this.seals, { open, completion, at }).then(() => open.id);
  }

  async reconcileOpenAttempts(at: string): Promise<number> {
    const startedMs = this.clock.nowMs();
    const closed = await this.inSealingTransaction(
      { rowsUnderLock: orphanedRows(this.replicaId) },
      (tx, rows) => {
        // Read under the chain lock: a row in hand now is sealed by this replica after this
        // transaction, and one no longer in hand had its seal settled or failed.
        const lost = rows.filter((row) => !this.rowsInHand.has(row.id));
        for (const row of lost) {
          const givenUp = this.givenUp.get(row.id);
          if (givenUp) tx.seal(row, givenUp.completion, givenUp.at, false);
          else tx.seal(row, CRASHED, at, false);
        }
        return lost.length;
      },
      [FORGET_GONE_REPLICAS],
    );
    // Sealed now, or never committed: a given-up row this reconcile could have seen is done.
    for (const [id, { givenUpMs }] of this.givenUp) {
      if (givenUpMs < startedMs - GIVEN_UP_KEPT_MS) this.givenUp.delete(id);
    }
    this.onReconciled(closed);
    return closed;
  }

  async list(query: AuditQuery, limit: number): Promise<AuditListing> {
    const conditions: [column: string, operator: string, value: string | undefined][] = [
      ['project_id', '=', query.projectId],
      ['instance_id', '=', query.instanceId],
      ['outcome', '=', query.outcome],
      ['lock_request_id', '=', query.lockRequestId],
      ['settles_audit_id', '=', query.settlesAuditId],
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
            this.logger.warn(
              `${closed} open attempt(s) closed: a gone replica's as unknown, or this replica's own whose write failed, with what its call knew`,
            );
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

  /**
   * Runs `work` in a transaction that holds the chain lock, on the head and the open rows it is
   * given, then writes what it sealed and commits.
   *
   * Read under the lock (`rowsUnderLock`: the open rows, or null for none), that is two round
   * trips: BEGIN, the lock, the head and the rows in the first; the writes, `beforeCommit` and
   * COMMIT in the second. `assumed` (the head and open rows this replica holds) saves the first:
   * the whole transaction goes at once, the lock first, and the database checks the head and
   * that every row sealed is open, failing with ASSUMPTION_FAILED before COMMIT when either is
   * not (the chain lock is then held until the ROLLBACK's round trip). Were any statement to
   * fail, the rest, COMMIT included, is not run and the catch rolls back.
   */
  private async inSealingTransaction<T>(
    given: { rowsUnderLock: string | null } | { assumed: { head: ChainHead; rows: AuditEvent[] } },
    work: (tx: SealingTransaction, openRows: AuditEvent[]) => T,
    beforeCommit: readonly string[] = [],
  ): Promise<T> {
    const client = await this.connected().connect();
    let broken: Error | undefined;
    try {
      let tx: SealingTransaction;
      let result: T;
      let checks: string[];
      if ('assumed' in given) {
        tx = new SealingTransaction(given.assumed.head);
        result = work(tx, given.assumed.rows);
        checks = [LOCK_CHAIN, assumeHead(given.assumed.head)];
      } else {
        // The chain lock comes before any row lock, in every sealing transaction, so two cannot
        // deadlock.
        const opening = given.rowsUnderLock
          ? `${BEGIN_SEALING}; ${given.rowsUnderLock}`
          : BEGIN_SEALING;
        const results = (await client.query(opening)) as unknown as pg.QueryResult<StoredRow>[];
        const [row] = results[2].rows as { seq: string; hash: string }[];
        const head = row ? { seq: Number(row.seq), hash: row.hash } : null;
        this.soleWriter = this.lastHead !== undefined && sameHead(head, this.lastHead);
        tx = new SealingTransaction(head);
        result = work(
          tx,
          (results[3]?.rows ?? []).map((stored) => decodeRow(stored)),
        );
        checks = [];
      }
      await client.query(
        [...checks, ...tx.writes(this.replicaId), ...beforeCommit, 'COMMIT'].join(';\n'),
      );
      this.lastHead = tx.head;
      return result;
    } catch (error) {
      this.lastHead = undefined;
      this.soleWriter = false;
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      // A connection whose rollback failed is in an unknown state: it is closed, not reused.
      client.release(broken);
    }
  }

  private enqueue<Write extends GroupedWrite>(
    queue: GroupCommitQueue<Write>,
    write: Omit<Write, keyof GroupedWrite>,
  ): Promise<unknown> {
    if (!this.pool || this.closing) return Promise.reject(new Error('the audit store is not open'));
    return new Promise((resolve, reject) => queue.push({ ...write, resolve, reject } as Write));
  }

  /**
   * Group commit of open attempts: one autocommitted statement for the whole batch. When the
   * server rejects it, each attempt is tried again on its own, so that one bad row does not fail
   * the rest. No promise resolves before the commit that made its row durable.
   */
  private async commitAttempts(batch: PendingAttempt[]): Promise<void> {
    try {
      await this.connected().query(
        insertOpenRows(
          batch.map((write) => write.open),
          this.replicaId,
          this.options.replicaLeaseSeconds,
        ),
      );
    } catch (error) {
      await this.retryAlone(batch, error, (write) => this.commitAttempts([write]));
      return;
    }
    settleGroupCommit(
      this.onCommit,
      batch,
      batch.map(() => ({})),
    );
  }

  /**
   * Group commit of seals: one transaction takes the chain lock, seals the batch in order on the
   * head and the batch's open rows, and writes it in one statement per kind of row. It goes in
   * one round trip on what this replica holds when it can, else on the head and rows read under
   * the lock. A write refused for what it asks (its row is not open) leaves the others in place;
   * when the server rejects a statement, each write is tried again on its own.
   */
  private async commitSeals(batch: PendingSeal[]): Promise<void> {
    let outcomes: WriteOutcome[];
    try {
      outcomes =
        (await this.sealOnAssumptions(batch)) ??
        (await this.inSealingTransaction({ rowsUnderLock: openRowsForUpdate(batch) }, (tx, rows) =>
          sealBatch(batch, tx, rows),
        ));
    } catch (error) {
      await this.retryAlone(batch, error, (write) => this.commitSeals([write]));
      return;
    }
    settleGroupCommit(this.onCommit, batch, outcomes);
  }

  /**
   * The batch sealed in one round trip, on the head this replica left and the open rows it
   * recorded: undefined, with nothing written, when another writer may have moved the head since,
   * a row to seal is not one this replica holds, or the database found an assumption wrong.
   */
  private async sealOnAssumptions(batch: PendingSeal[]): Promise<WriteOutcome[] | undefined> {
    const head = this.lastHead;
    if (!this.soleWriter || !head) return undefined;
    const rows: AuditEvent[] = [];
    for (const write of batch) {
      if (write.open) continue;
      if (!write.recorded) return undefined;
      rows.push(write.recorded);
    }
    try {
      return await this.inSealingTransaction({ assumed: { head, rows } }, (tx, openRows) =>
        sealBatch(batch, tx, openRows),
      );
    } catch (error) {
      if (error instanceof pg.DatabaseError && error.code === ASSUMPTION_FAILED) return undefined;
      throw error;
    }
  }

  /** A failed batch: each write again alone when the server refused a statement, else all fail. */
  private async retryAlone<Write extends GroupedWrite>(
    batch: Write[],
    error: unknown,
    commitAlone: (write: Write) => Promise<void>,
  ): Promise<void> {
    if (batch.length > 1 && rejectedStatement(error)) {
      for (const write of batch) await commitAlone(write);
    } else {
      for (const write of batch) write.reject(error);
    }
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

function sameHead(a: ChainHead | null, b: ChainHead | null): boolean {
  return a === b || (a !== null && b !== null && a.seq === b.seq && a.hash === b.hash);
}

/**
 * Seals a batch in order after `tx`'s head: each new row, and each open row found among
 * `openRows`. A write whose row is not there is refused; the others go on.
 */
function sealBatch(
  batch: readonly PendingSeal[],
  tx: SealingTransaction,
  openRows: readonly AuditEvent[],
): WriteOutcome[] {
  const open = new Map(openRows.map((row) => [row.id, row]));
  return batch.map((write): WriteOutcome => {
    if (write.open) return { value: tx.seal(write.open, write.completion, write.at, true).id };
    const row = open.get(write.id);
    // Taken out once sealed: the same id twice in a batch is sealed once.
    open.delete(write.id);
    if (!row)
      return { error: new AuditWriteRefused(`audit row ${write.id} is not an open attempt`) };
    tx.seal(row, write.completion, write.at, false);
    return {};
  });
}
