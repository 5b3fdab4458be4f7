import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { v7 as uuidv7 } from 'uuid';
import {
  type ChainHead,
  type SealFields,
  openEvent,
  sealRow,
  ChainVerifier,
  type VerifyResult,
} from './audit-chain.js';
import {
  AUDIT_COLUMN_TABLE,
  CRASHED_ERROR_CODE,
  type AuditAttempt,
  type AuditCompletion,
  type AuditEvent,
} from './audit-record.js';
import {
  AUDIT_COLUMN_NAMES,
  columnDefinition,
  decodeRow,
  encodeRow,
  SEAL_COLUMN_NAMES,
  type StoredRow,
  verifyStoredRow,
} from './audit-row.js';
import { AuditWriteRefused, type AuditListing, type AuditQuery } from './audit-store.js';
import { settleGroupCommit, type GroupedWrite, type WriteOutcome } from './group-commit.js';

interface PendingWrite extends GroupedWrite {
  work: (db: Database.Database) => unknown;
}

/** SQLite's names for the column types; booleans are kept as 0/1. */
const SQLITE_TYPES = {
  text: 'TEXT',
  integer: 'INTEGER',
  boolean: 'INTEGER',
  json: 'TEXT',
} as const;

const COLUMN_DEFINITIONS = Object.values(AUDIT_COLUMN_TABLE)
  .map((column) => `  ${columnDefinition(column, SQLITE_TYPES, 'integer')},`)
  .join('\n');

/**
 * The audit table's definition, everything after its name. SQLite keeps it as written, so
 * comparing it with the stored one tells whether a file holds another version of the table.
 * STRICT keeps every value the type it was hashed with.
 */
const AUDIT_TABLE_DEFINITION = `(
${COLUMN_DEFINITIONS}
  PRIMARY KEY (id),
  UNIQUE (seq),
  CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (outcome IS NULL))
) STRICT`;

/**
 * The triggers stop the gateway itself (or a careless operator) from changing a sealed row;
 * someone with the file can drop them, which is what the hash chain is for.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_events ${AUDIT_TABLE_DEFINITION};
CREATE INDEX IF NOT EXISTS audit_events_instance ON audit_events (project_id, instance_id, id);
CREATE INDEX IF NOT EXISTS audit_events_open ON audit_events (id) WHERE seq IS NULL;
CREATE TRIGGER IF NOT EXISTS audit_events_sealed_no_update
  BEFORE UPDATE ON audit_events WHEN OLD.seq IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'sealed audit rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_events_sealed_no_delete
  BEFORE DELETE ON audit_events WHEN OLD.seq IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'sealed audit rows cannot be deleted'); END;
CREATE INDEX IF NOT EXISTS audit_events_request ON audit_events (request_id);
CREATE INDEX IF NOT EXISTS audit_events_lock_request ON audit_events (lock_request_id, id)
  WHERE lock_request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_events_settles ON audit_events (settles_audit_id)
  WHERE settles_audit_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS audit_heartbeat (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at TEXT NOT NULL
) STRICT;
`;

const INSERT_ROW = `INSERT INTO audit_events (${AUDIT_COLUMN_NAMES.join(', ')})
  VALUES (${AUDIT_COLUMN_NAMES.map((c) => `@${c}`).join(', ')})`;
const SEAL_ROW = `UPDATE audit_events SET ${SEAL_COLUMN_NAMES.map((c) => `${c} = @${c}`).join(', ')}
  WHERE id = @id AND seq IS NULL`;
// Every column, read by name: a file opened read-only before it was migrated lacks the columns
// added later, which then read as null.
const SELECT_ROWS = 'SELECT * FROM audit_events';
const CHAIN_HEAD = `SELECT seq, hash FROM audit_events
  WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1`;

/**
 * The audit trail in one SQLite file: WAL, and `synchronous=FULL` so that a row is on disk when
 * its commit returns. Sealing runs in a BEGIN IMMEDIATE transaction, so two connections to the
 * same file can never seal onto the same chain head. Reconciling closes every open row, so one
 * file belongs to one gateway process.
 *
 * Every call here blocks its thread while SQLite works (fsync included), so it runs in a worker
 * thread of its own (`sqlite-audit-worker.ts`), driven by ThreadedSqliteAuditStore.
 * Times come from the caller, whose clock is the gateway's.
 */
export class SqliteAuditStore {
  private pending: PendingWrite[] = [];
  private readonly statements = new Map<string, Database.Statement>();
  private db: Database.Database | null;

  private constructor(
    db: Database.Database,
    /** Told the size of every group commit that made it to disk. */
    private readonly onCommit: (writes: number) => void,
  ) {
    this.db = db;
  }

  /**
   * `readonly` is for verification, which must never change the trail: it creates nothing,
   * migrates nothing and closes no open attempt.
   */
  static open(
    sqlitePath: string,
    mode: 'readwrite' | 'readonly',
    onCommit: (writes: number) => void = () => undefined,
  ): SqliteAuditStore {
    const readonly = mode === 'readonly';
    if (!readonly) mkdirSync(dirname(sqlitePath), { recursive: true });
    const db = new Database(sqlitePath, { readonly, fileMustExist: readonly });
    try {
      db.pragma('busy_timeout = 5000');
      if (!readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
        // One transaction: a rebuilt table never stands without its indexes and triggers.
        db.transaction(() => {
          migrate(db);
          db.exec(SCHEMA);
        }).immediate();
      }
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteAuditStore(db, onCommit);
  }

  close(): void {
    // Writes already asked for are committed, not dropped: on shutdown a seal may still be queued.
    if (this.pending.length > 0) this.flush();
    this.statements.clear();
    this.db?.close();
    this.db = null;
  }

  recordAttempt(attempt: AuditAttempt, startedAt: string): Promise<string> {
    return this.groupCommit((db) => {
      const open = openEvent(attempt, uuidv7(), startedAt);
      this.statement(db, INSERT_ROW).run(encodeRow(open, 'integer'));
      return open.id;
    });
  }

  complete(id: string, completion: AuditCompletion, completedAt: string): Promise<void> {
    return this.groupCommit((db) => {
      const row = this.statement(db, `${SELECT_ROWS} WHERE id = ? AND seq IS NULL`).get(id) as
        StoredRow | undefined;
      if (!row) throw new AuditWriteRefused(`audit row ${id} is not an open attempt`);
      this.seal(db, decodeRow(row), completion, completedAt);
    });
  }

  recordSealed(attempt: AuditAttempt, completion: AuditCompletion, at: string): Promise<string> {
    return this.groupCommit((db) => {
      const sealed = sealRow(openEvent(attempt, uuidv7(), at), this.head(db), completion, at);
      this.statement(db, INSERT_ROW).run(encodeRow(sealed, 'integer'));
      return sealed.id;
    });
  }

  /** Seals every open row as `unknown`, in one transaction of its own; returns how many. */
  reconcileOpenAttempts(at: string): number {
    const db = this.connection();
    return db
      .transaction(() => {
        const open = this.statement(
          db,
          `${SELECT_ROWS} WHERE seq IS NULL ORDER BY id`,
        ).all() as StoredRow[];
        for (const row of open) {
          this.seal(
            db,
            decodeRow(row),
            { outcome: 'unknown', errorCode: CRASHED_ERROR_CODE, durationMs: null },
            at,
          );
        }
        return open.length;
      })
      .immediate();
  }

  /** Newest first; one row more than `limit` tells the caller that another page exists. */
  list(query: AuditQuery, limit: number): AuditListing {
    const conditions: [sql: string, value: string | undefined][] = [
      ['project_id = ?', query.projectId],
      ['instance_id = ?', query.instanceId],
      ['outcome = ?', query.outcome],
      ['lock_request_id = ?', query.lockRequestId],
      ['settles_audit_id = ?', query.settlesAuditId],
      ['started_at >= ?', query.since],
      ['started_at < ?', query.until],
      ['id < ?', query.beforeId],
    ];
    const applied = conditions.filter((c): c is [string, string] => c[1] !== undefined);
    const where = applied.length > 0 ? `WHERE ${applied.map(([sql]) => sql).join(' AND ')}` : '';
    const rows = this.statement(
      this.connection(),
      `${SELECT_ROWS} ${where} ORDER BY id DESC LIMIT ?`,
    ).all(...applied.map(([, value]) => value), limit + 1) as StoredRow[];
    return { events: rows.slice(0, limit).map((row) => decodeRow(row)), more: rows.length > limit };
  }

  verify(): VerifyResult {
    const rows = this.statement(
      this.connection(),
      `${SELECT_ROWS} WHERE seq IS NOT NULL ORDER BY seq`,
    ).iterate() as IterableIterator<StoredRow>;
    const verifier = new ChainVerifier();
    for (const row of rows) {
      if (!verifyStoredRow(verifier, row)) break;
    }
    return verifier.result();
  }

  /** Readiness: a real write. */
  checkWritable(at: string): void {
    this.statement(
      this.connection(),
      `INSERT INTO audit_heartbeat (id, checked_at) VALUES (1, @at)
       ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`,
    ).run({ at });
  }

  private connection(): Database.Database {
    if (!this.db) throw new Error('the audit store is not open');
    return this.db;
  }

  /** Statements are compiled once per connection: preparing one costs more than running it. */
  private statement(db: Database.Database, sql: string): Database.Statement {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      prepared = db.prepare(sql);
      this.statements.set(sql, prepared);
    }
    return prepared;
  }

  /**
   * Group commit: the writes asked for while this thread is busy (with the previous commit's
   * fsync, say) are applied together in one BEGIN IMMEDIATE transaction, so concurrent requests
   * share one fsync instead of queueing for one each. Every write changes the trail with one
   * statement, and SQLite undoes a failed statement alone, so a write that fails leaves the
   * others of its batch in place without a savepoint of its own. No promise resolves before the
   * commit that made its row durable.
   */
  private groupCommit<T>(work: (db: Database.Database) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const outcomes: WriteOutcome[] = [];
    try {
      const db = this.connection();
      db.transaction(() => {
        for (const job of batch) {
          try {
            outcomes.push({ value: job.work(db) });
          } catch (error) {
            // A full disk or an I/O error can end the whole transaction, not just this
            // write's statement; later writes would then commit on their own while their
            // callers are told they failed. The batch stops and every write in it fails.
            if (!db.inTransaction) throw error;
            outcomes.push({ error });
          }
        }
      }).immediate();
    } catch (error) {
      for (const job of batch) job.reject(error);
      return;
    }
    settleGroupCommit(this.onCommit, batch, outcomes);
  }

  /** Must run inside an immediate transaction, which holds the chain head still. */
  private seal(db: Database.Database, open: AuditEvent, completion: SealFields, at: string): void {
    const sealed = sealRow(open, this.head(db), completion, at);
    this.statement(db, SEAL_ROW).run(encodeRow(sealed, 'integer'));
  }

  private head(db: Database.Database): ChainHead | null {
    return (this.statement(db, CHAIN_HEAD).get() as ChainHead | undefined) ?? null;
  }
}

/**
 * Brings a file written by another version of the table up to AUDIT_TABLE_DEFINITION, before
 * SCHEMA's own statements run, in their transaction. SQLite cannot change a column's CHECK (the
 * values it accepts) in place, so the table is rebuilt as sqlite.org/lang_altertable.html says
 * for any other schema change: a new table, every row copied over by column name, the old table
 * dropped (its indexes and triggers with it, which SCHEMA then creates afresh) and the new one
 * renamed in its place. A column the file lacks is null in its rows, which were hashed without it
 * (`hashedOnlyWhenSet`). A column this gateway does not know is never dropped: its values are
 * hashed, so the file is refused instead.
 */
function migrate(db: Database.Database): void {
  const stored = db
    .prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'audit_events'")
    .get() as { sql: string } | undefined;
  // After a rename SQLite keeps the name quoted, so only what follows the name is compared.
  if (!stored || stored.sql.slice(stored.sql.indexOf('(')) === AUDIT_TABLE_DEFINITION) return;
  const columns = (
    db.prepare("SELECT name FROM pragma_table_info('audit_events')").all() as { name: string }[]
  ).map((column) => column.name);
  const unknown = columns.filter((column) => !AUDIT_COLUMN_NAMES.includes(column));
  if (unknown.length > 0) {
    throw new Error(
      `the audit file has columns this gateway does not know (${unknown.join(', ')}): it was written by a newer gateway; run that one`,
    );
  }
  db.exec(`CREATE TABLE audit_events_rebuilt ${AUDIT_TABLE_DEFINITION};
    INSERT INTO audit_events_rebuilt (${columns.join(', ')})
      SELECT ${columns.join(', ')} FROM audit_events;
    DROP TABLE audit_events;
    ALTER TABLE audit_events_rebuilt RENAME TO audit_events;`);
}
