import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import Database from 'better-sqlite3';
import { v7 as uuidv7, validate as isUuid } from 'uuid';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import {
  type ChainHead,
  type SealFields,
  sealRow,
  ChainVerifier,
  type VerifyResult,
} from './audit-chain.js';
import {
  AUDIT_COLUMNS,
  AUDIT_LIST_MAX_LIMIT,
  AUDIT_OUTCOMES,
  CRASHED_ERROR_CODE,
  type AuditAttempt,
  type AuditCompletion,
  type AuditEvent,
  type AuditFilter,
  type AuditOutcome,
  type AuditPage,
} from './audit-record.js';
import { AuditTrail } from './audit-trail.js';
import { auditConfig, type AuditConfig } from './audit.config.js';

/** A row as SQLite holds it: booleans as 0/1, the reasons as JSON text. */
interface SqliteAuditRow {
  id: string;
  seq: number | null;
  started_at: string;
  completed_at: string | null;
  request_id: string;
  channel: AuditEvent['channel'];
  principal_iss: string;
  principal_sub: string;
  caller_address: string;
  project_id: string;
  instance_id: string;
  action: AuditEvent['action'];
  retention_days: number | null;
  dry_run: number;
  decision_allowed: number;
  decision_rule: string | null;
  decision_reasons: string;
  policy_version: string;
  outcome: AuditOutcome | null;
  upstream_status: number | null;
  error_code: string | null;
  duration_ms: number | null;
  prev_hash: string | null;
  hash: string | null;
}

type AuditWriteKind = 'attempt' | 'outcome' | 'sealed';

interface PendingWrite {
  kind: AuditWriteKind;
  work: (db: Database.Database) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const sqlList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

/**
 * STRICT keeps every value the type it was hashed with. The triggers stop the gateway itself
 * (or a careless operator) from changing a sealed row; someone with the file can drop them,
 * which is what the hash chain is for.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_events (
  id TEXT PRIMARY KEY NOT NULL,
  seq INTEGER UNIQUE,
  started_at TEXT NOT NULL,
  completed_at TEXT,
  request_id TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('graphql', 'rest')),
  principal_iss TEXT NOT NULL,
  principal_sub TEXT NOT NULL,
  caller_address TEXT NOT NULL,
  project_id TEXT NOT NULL,
  instance_id TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('enable', 'extend', 'show')),
  retention_days INTEGER,
  dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
  decision_allowed INTEGER NOT NULL CHECK (decision_allowed IN (0, 1)),
  decision_rule TEXT,
  decision_reasons TEXT NOT NULL,
  policy_version TEXT NOT NULL,
  outcome TEXT CHECK (outcome IN (${sqlList(AUDIT_OUTCOMES)})),
  upstream_status INTEGER,
  error_code TEXT,
  duration_ms INTEGER,
  prev_hash TEXT,
  hash TEXT,
  CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (outcome IS NULL))
) STRICT;
CREATE INDEX IF NOT EXISTS audit_events_instance ON audit_events (project_id, instance_id, id);
CREATE INDEX IF NOT EXISTS audit_events_open ON audit_events (id) WHERE seq IS NULL;
CREATE TRIGGER IF NOT EXISTS audit_events_sealed_no_update
  BEFORE UPDATE ON audit_events WHEN OLD.seq IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'sealed audit rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_events_sealed_no_delete
  BEFORE DELETE ON audit_events WHEN OLD.seq IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'sealed audit rows cannot be deleted'); END;
CREATE TABLE IF NOT EXISTS audit_heartbeat (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at TEXT NOT NULL
) STRICT;
`;

const COLUMN_NAMES = Object.values(AUDIT_COLUMNS);
const INSERT_ROW = `INSERT INTO audit_events (${COLUMN_NAMES.join(', ')})
  VALUES (${COLUMN_NAMES.map((c) => `@${c}`).join(', ')})`;
const SEAL_ROW = `UPDATE audit_events SET seq = @seq, completed_at = @completed_at,
  outcome = @outcome, upstream_status = @upstream_status, error_code = @error_code,
  duration_ms = @duration_ms, prev_hash = @prev_hash, hash = @hash
  WHERE id = @id AND seq IS NULL`;
const CHAIN_HEAD = `SELECT seq, hash FROM audit_events
  WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1`;

/**
 * The audit trail in one SQLite file: WAL, and `synchronous=FULL` so that a row is on disk when
 * its write returns. Sealing runs in a BEGIN IMMEDIATE transaction, so two connections to the
 * same file can never seal onto the same chain head. Reconciling at start-up closes every open
 * row, so one file belongs to one gateway process.
 */
@Injectable()
export class SqliteAuditTrail extends AuditTrail implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SqliteAuditTrail.name);
  private db: Database.Database | null = null;
  private pending: PendingWrite[] = [];
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    @Inject(auditConfig.KEY) private readonly config: AuditConfig,
    private readonly clock: Clock,
    private readonly metrics: GatewayMetrics,
  ) {
    super();
  }

  async onModuleInit(): Promise<void> {
    if (this.config.databaseUrl) {
      // Silently writing to SQLite while the operator configured PostgreSQL would scatter the trail.
      throw new Error(
        'AUDIT_DATABASE_URL is set, but this version keeps the audit trail in SQLite only: unset it and use AUDIT_SQLITE_PATH',
      );
    }
    this.open('readwrite');
    const closed = await this.reconcileOpenAttempts();
    const message = `audit store ${this.config.sqlitePath} open; ${closed} open attempt(s) closed as unknown`;
    if (closed > 0) this.logger.warn(message);
    else this.logger.log(message);
  }

  onModuleDestroy(): void {
    this.close();
  }

  /**
   * `readonly` is for verification, which must never change the trail: it creates nothing,
   * migrates nothing and closes no open attempt.
   */
  open(mode: 'readwrite' | 'readonly'): void {
    this.close();
    const readonly = mode === 'readonly';
    if (!readonly) mkdirSync(dirname(this.config.sqlitePath), { recursive: true });
    const db = new Database(this.config.sqlitePath, { readonly, fileMustExist: readonly });
    try {
      db.pragma('busy_timeout = 5000');
      if (!readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
        db.exec(SCHEMA);
      }
    } catch (error) {
      db.close();
      throw error;
    }
    this.db = db;
  }

  close(): void {
    // Writes already asked for are committed, not dropped: on shutdown a seal may still be queued.
    if (this.pending.length > 0) this.flush();
    this.statements.clear();
    this.db?.close();
    this.db = null;
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

  recordAttempt(attempt: AuditAttempt): Promise<string> {
    return this.groupCommit('attempt', (db) => {
      const open = this.openEvent(attempt, this.clock.now());
      this.statement(db, INSERT_ROW).run(toRow(open));
      return open.id;
    });
  }

  complete(id: string, completion: AuditCompletion): Promise<void> {
    return this.groupCommit('outcome', (db) => {
      const row = this.statement(db, 'SELECT * FROM audit_events WHERE id = ? AND seq IS NULL').get(
        id,
      ) as SqliteAuditRow | undefined;
      if (!row) {
        throw GatewayError.internal(new Error(`audit row ${id} is not an open attempt`));
      }
      this.seal(db, toEvent(row), completion);
    });
  }

  recordSealed(attempt: AuditAttempt, completion: AuditCompletion): Promise<string> {
    return this.groupCommit('sealed', (db) => {
      const now = this.clock.now();
      const sealed = sealRow(this.openEvent(attempt, now), this.head(db), completion, now);
      this.statement(db, INSERT_ROW).run(toRow(sealed));
      return sealed.id;
    });
  }

  async reconcileOpenAttempts(): Promise<number> {
    return this.write(
      'outcome',
      (db) =>
        db
          .transaction(() => {
            const open = this.statement(
              db,
              'SELECT * FROM audit_events WHERE seq IS NULL ORDER BY id',
            ).all() as SqliteAuditRow[];
            for (const row of open) {
              this.seal(db, toEvent(row), {
                outcome: 'unknown',
                errorCode: CRASHED_ERROR_CODE,
                durationMs: null,
              });
            }
            return open.length;
          })
          .immediate(),
      (closed) => closed,
    );
  }

  async list(filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage> {
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_LIST_MAX_LIMIT) {
      throw GatewayError.validation(
        'limit',
        `must be an integer from 1 to ${AUDIT_LIST_MAX_LIMIT}`,
      );
    }
    const conditions: [sql: string, value: string | undefined][] = [
      ['project_id = ?', filter.projectId],
      ['instance_id = ?', filter.instanceId],
      ['outcome = ?', filter.outcome],
      ['started_at >= ?', filter.since && isoOf('since', filter.since)],
      ['started_at < ?', filter.until && isoOf('until', filter.until)],
      ['id < ?', cursor === undefined ? undefined : decodeCursor(cursor)],
    ];
    const applied = conditions.filter((c): c is [string, string] => c[1] !== undefined);
    const where = applied.length > 0 ? `WHERE ${applied.map(([sql]) => sql).join(' AND ')}` : '';

    return this.guard('list', (db) => {
      const rows = this.statement(
        db,
        `SELECT * FROM audit_events ${where} ORDER BY id DESC LIMIT ?`,
      ).all(...applied.map(([, value]) => value), limit + 1) as SqliteAuditRow[];
      const events = rows.slice(0, limit).map(toEvent);
      const more = rows.length > limit;
      return { events, nextCursor: more ? encodeCursor(events[events.length - 1].id) : null };
    });
  }

  async verify(): Promise<VerifyResult> {
    return this.guard('verify', (db) => {
      const rows = this.statement(
        db,
        'SELECT * FROM audit_events WHERE seq IS NOT NULL ORDER BY seq',
      ).iterate() as IterableIterator<SqliteAuditRow>;
      const verifier = new ChainVerifier();
      for (const row of rows) {
        let event: AuditEvent;
        try {
          event = toEvent(row);
        } catch (error) {
          verifier.addUnreadable(row.seq ?? 0, row.id, (error as Error).message);
          break;
        }
        if (!verifier.add(event)) break;
      }
      return verifier.result();
    });
  }

  async checkWritable(): Promise<void> {
    this.guard('write probe', (db) => {
      this.statement(
        db,
        `INSERT INTO audit_heartbeat (id, checked_at) VALUES (1, @now)
         ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`,
      ).run({ now: this.clock.now().toISOString() });
    });
  }

  /**
   * Group commit: the writes asked for while the event loop is busy are applied together in one
   * BEGIN IMMEDIATE transaction, so concurrent requests share one fsync instead of queueing for
   * one each. Every write runs under its own savepoint, so one that fails is rolled back alone,
   * and no caller's promise resolves before the commit that made its row durable.
   */
  private groupCommit<T>(kind: AuditWriteKind, work: (db: Database.Database) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ kind, work, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const outcomes: { value?: unknown; error?: unknown }[] = [];
    try {
      this.guard('group commit', (db) =>
        db
          .transaction(() => {
            for (const job of batch) {
              try {
                outcomes.push({ value: this.write(job.kind, db.transaction(job.work)) });
              } catch (error) {
                // A full disk or an I/O error can end the whole transaction, not just this
                // write's savepoint; later writes would then commit on their own while their
                // callers are told they failed. The batch stops and every write in it fails.
                if (!db.inTransaction) throw error;
                outcomes.push({ error });
              }
            }
          })
          .immediate(),
      );
    } catch (error) {
      for (const job of batch) job.reject(error);
      return;
    }
    this.metrics.auditCommitBatch.observe(batch.length);
    batch.forEach((job, index) => {
      const { value, error } = outcomes[index];
      if (error === undefined) job.resolve(value);
      else job.reject(error);
    });
  }

  private openEvent(attempt: AuditAttempt, startedAt: Date): AuditEvent {
    return {
      ...attempt,
      decisionReasons: [...attempt.decisionReasons],
      id: uuidv7(),
      seq: null,
      startedAt: startedAt.toISOString(),
      completedAt: null,
      outcome: null,
      upstreamStatus: null,
      errorCode: null,
      durationMs: null,
      prevHash: null,
      hash: null,
    };
  }

  /** Must run inside an immediate transaction, which holds the chain head still. */
  private seal(db: Database.Database, open: AuditEvent, completion: SealFields): void {
    const sealed = sealRow(open, this.head(db), completion, this.clock.now());
    this.statement(db, SEAL_ROW).run(toRow(sealed));
  }

  private head(db: Database.Database): ChainHead | null {
    return (this.statement(db, CHAIN_HEAD).get() as ChainHead | undefined) ?? null;
  }

  private write<T>(
    kind: AuditWriteKind,
    work: (db: Database.Database) => T,
    rowsWritten: (result: T) => number = () => 1,
  ): T {
    try {
      const result = this.guard(`${kind} write`, work);
      this.metrics.auditWrites.inc({ kind, result: 'ok' }, rowsWritten(result));
      return result;
    } catch (error) {
      this.metrics.auditWrites.inc({ kind, result: 'error' });
      throw error;
    }
  }

  /** Any store failure becomes GW.AUDIT_UNAVAILABLE; the SQLite message goes to the log only. */
  private guard<T>(operation: string, work: (db: Database.Database) => T): T {
    try {
      if (!this.db) throw new Error('the audit store is not open');
      return work(this.db);
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      this.logger.error(`audit ${operation} failed: ${(error as Error).message}`);
      throw new GatewayError(GwCode.AUDIT_UNAVAILABLE, 503, 'audit trail unavailable', {
        cause: error,
      });
    }
  }
}

function toRow(event: AuditEvent): SqliteAuditRow {
  return {
    id: event.id,
    seq: event.seq,
    started_at: event.startedAt,
    completed_at: event.completedAt,
    request_id: event.requestId,
    channel: event.channel,
    principal_iss: event.principalIss,
    principal_sub: event.principalSub,
    caller_address: event.callerAddress,
    project_id: event.projectId,
    instance_id: event.instanceId,
    action: event.action,
    retention_days: event.retentionDays,
    dry_run: event.dryRun ? 1 : 0,
    decision_allowed: event.decisionAllowed ? 1 : 0,
    decision_rule: event.decisionRule,
    decision_reasons: JSON.stringify(event.decisionReasons),
    policy_version: event.policyVersion,
    outcome: event.outcome,
    upstream_status: event.upstreamStatus,
    error_code: event.errorCode,
    duration_ms: event.durationMs,
    prev_hash: event.prevHash,
    hash: event.hash,
  };
}

function toEvent(row: SqliteAuditRow): AuditEvent {
  return {
    id: row.id,
    seq: row.seq,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    requestId: row.request_id,
    channel: row.channel,
    principalIss: row.principal_iss,
    principalSub: row.principal_sub,
    callerAddress: row.caller_address,
    projectId: row.project_id,
    instanceId: row.instance_id,
    action: row.action,
    retentionDays: row.retention_days,
    dryRun: row.dry_run === 1,
    decisionAllowed: row.decision_allowed === 1,
    decisionRule: row.decision_rule,
    decisionReasons: decodeReasons(row),
    policyVersion: row.policy_version,
    outcome: row.outcome,
    upstreamStatus: row.upstream_status,
    errorCode: row.error_code,
    durationMs: row.duration_ms,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function decodeReasons(row: SqliteAuditRow): string[] {
  try {
    return JSON.parse(row.decision_reasons) as string[];
  } catch {
    throw new Error(`audit row seq ${row.seq} (id ${row.id}) has unreadable decision_reasons`);
  }
}

function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) throw GatewayError.validation('cursor', 'is not a cursor this trail issued');
  return id;
}

function isoOf(field: string, date: Date): string {
  if (Number.isNaN(date.getTime())) throw GatewayError.validation(field, 'must be a valid date');
  return date.toISOString();
}
