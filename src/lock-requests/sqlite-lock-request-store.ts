import Database from 'better-sqlite3';
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
import { openSqliteFile } from '../audit/sqlite-file.js';

/** Every time column holds a `toISOString` time: text order is then time order. */
const ISO_TIME =
  "GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'";

/** Added after the table was first released: files written before it gain it when opened. */
const NEXT_READING_AT_COLUMN = `next_reading_at TEXT CHECK (next_reading_at ${ISO_TIME})`;

/**
 * STRICT keeps every value the type it was written with. Approver groups and approvals are JSON
 * arrays. The trigger refuses any update that would change what the request was made for and
 * decided on (what its approvals bind to, among others): a bug in a transition cannot rewrite it. The partial indexes hold only the requests background work may still move, so they
 * stay small however many requests have ended.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS lock_requests (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('PENDING_APPROVAL', 'SCHEDULED', 'EXECUTING', 'SUCCEEDED',
    'FAILED', 'UNKNOWN', 'DENIED', 'CANCELLED', 'EXPIRED', 'VOIDED')),
  project_id TEXT NOT NULL,
  instance_id TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('enable', 'extend')),
  retention_days INTEGER NOT NULL CHECK (retention_days >= 1),
  requester_iss TEXT NOT NULL,
  requester_sub TEXT NOT NULL,
  requester_groups TEXT NOT NULL
    CHECK (json_valid(requester_groups) AND json_type(requester_groups) = 'array'),
  rule_id TEXT NOT NULL,
  policy_version TEXT NOT NULL,
  approvals_required INTEGER NOT NULL CHECK (approvals_required >= 0),
  approver_groups TEXT NOT NULL
    CHECK (json_valid(approver_groups) AND json_type(approver_groups) = 'array'),
  cooling_off_seconds INTEGER NOT NULL CHECK (cooling_off_seconds >= 0),
  approvals TEXT NOT NULL CHECK (json_valid(approvals) AND json_type(approvals) = 'array'),
  lock_enabled INTEGER NOT NULL CHECK (lock_enabled IN (0, 1)),
  lock_retention_days INTEGER,
  lock_ends_at_ms INTEGER,
  fingerprint TEXT NOT NULL
    CHECK (length(fingerprint) = 64 AND fingerprint NOT GLOB '*[^0-9a-f]*'),
  not_before TEXT CHECK (not_before ${ISO_TIME}),
  expires_at TEXT NOT NULL CHECK (expires_at ${ISO_TIME}),
  created_at TEXT NOT NULL CHECK (created_at ${ISO_TIME}),
  updated_at TEXT NOT NULL CHECK (updated_at ${ISO_TIME}),
  reason TEXT,
  executor TEXT,
  claim_until TEXT CHECK (claim_until ${ISO_TIME}),
  execution_audit_id TEXT,
  version INTEGER NOT NULL CHECK (version >= 1),
  ${NEXT_READING_AT_COLUMN},
  CHECK (state <> 'SCHEDULED' OR not_before IS NOT NULL),
  CHECK (state <> 'EXECUTING' OR (executor IS NOT NULL AND claim_until IS NOT NULL))
) STRICT;
CREATE TRIGGER IF NOT EXISTS lock_requests_bound_fields BEFORE UPDATE ON lock_requests
  WHEN NEW.project_id IS NOT OLD.project_id OR NEW.instance_id IS NOT OLD.instance_id
    OR NEW.action IS NOT OLD.action OR NEW.retention_days IS NOT OLD.retention_days
    OR NEW.requester_iss IS NOT OLD.requester_iss OR NEW.requester_sub IS NOT OLD.requester_sub
    OR NEW.requester_groups IS NOT OLD.requester_groups
    OR NEW.rule_id IS NOT OLD.rule_id OR NEW.policy_version IS NOT OLD.policy_version
    OR NEW.approvals_required IS NOT OLD.approvals_required
    OR NEW.approver_groups IS NOT OLD.approver_groups
    OR NEW.cooling_off_seconds IS NOT OLD.cooling_off_seconds
    OR NEW.lock_enabled IS NOT OLD.lock_enabled
    OR NEW.lock_retention_days IS NOT OLD.lock_retention_days
    OR NEW.lock_ends_at_ms IS NOT OLD.lock_ends_at_ms OR NEW.fingerprint IS NOT OLD.fingerprint
    OR NEW.created_at IS NOT OLD.created_at
  BEGIN SELECT RAISE(ABORT, 'what a lock request was made for and decided on never changes'); END;
CREATE INDEX IF NOT EXISTS lock_requests_pending ON lock_requests (expires_at)
  WHERE state = 'PENDING_APPROVAL';
CREATE INDEX IF NOT EXISTS lock_requests_scheduled ON lock_requests (not_before)
  WHERE state = 'SCHEDULED';
CREATE INDEX IF NOT EXISTS lock_requests_executing ON lock_requests (claim_until)
  WHERE state = 'EXECUTING';
CREATE INDEX IF NOT EXISTS lock_requests_unknown ON lock_requests (updated_at)
  WHERE state = 'UNKNOWN';
CREATE INDEX IF NOT EXISTS lock_requests_requester ON lock_requests (requester_iss, requester_sub, id);
CREATE INDEX IF NOT EXISTS lock_requests_instance ON lock_requests (project_id, instance_id, id);
CREATE TABLE IF NOT EXISTS background_leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  until TEXT NOT NULL CHECK (until ${ISO_TIME})
) STRICT;
`;

interface StoredRow extends Omit<
  LockRequestRow,
  'requester_groups' | 'approver_groups' | 'approvals' | 'lock_enabled'
> {
  requester_groups: string;
  approver_groups: string;
  approvals: string;
  lock_enabled: 0 | 1;
}

/** How SQLite writes the shared statements' parameters, group lists and approvals. */
export const SQLITE_DIALECT: LockRequestDialect = {
  placeholder: () => '?',
  encode(row, column) {
    if (column === 'requester_groups' || column === 'approver_groups' || column === 'approvals') {
      return JSON.stringify(row[column]);
    }
    if (column === 'lock_enabled') return row.lock_enabled ? 1 : 0;
    return row[column];
  },
  groupsOverlap: (param, groups) =>
    `EXISTS (SELECT 1 FROM json_each(approver_groups) AS mine
       WHERE mine.value IN (SELECT value FROM json_each(${param(JSON.stringify(groups))})))`,
  notDecidedBy: (param, iss, sub) =>
    `NOT EXISTS (SELECT 1 FROM json_each(approvals) AS approval
       WHERE approval.value ->> 'approverIss' = ${param(iss)}
         AND approval.value ->> 'approverSub' = ${param(sub)})`,
};

function decode(row: StoredRow): LockRequest {
  return fromRow({
    ...row,
    requester_groups: JSON.parse(row.requester_groups) as string[],
    approver_groups: JSON.parse(row.approver_groups) as string[],
    approvals: JSON.parse(row.approvals) as LockRequestRow['approvals'],
    lock_enabled: row.lock_enabled === 1,
  });
}

/**
 * Lock requests in the SQLite file of the audit trail (AUDIT_SQLITE_PATH), on a connection of
 * their own: WAL, and `synchronous=FULL` so that a write is on disk when its promise resolves.
 * The compare-and-set is one `UPDATE … WHERE id = ? AND version = ?`, which SQLite runs under its
 * write lock, so it holds across connections and processes on the same file.
 *
 * Unlike the audit trail's, this connection runs on the main thread. Its writes are rare (a
 * request, a person's approval, a background tick's transition: a few in a request's life, not
 * one per call), each one row in its own autocommit. One such write with its fsync took 0.3 ms
 * (p50) and under 10 ms (p99) on the shared CI-sized machine, a stall the event loop can afford
 * at that rate; the audit trail writes on every call and so needs its thread. Reads never wait
 * in WAL mode. A write that finds the audit writer mid-commit waits (`busy_timeout`) only for
 * that one short transaction.
 */
export class SqliteLockRequestStore extends LockRequestStore {
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
    addNextReadingAt(this.db);
  }

  async insert(request: LockRequest): Promise<void> {
    this.run(insertStatement(SQLITE_DIALECT, request));
  }

  async get(id: string): Promise<LockRequest | null> {
    const { sql, values } = getStatement(SQLITE_DIALECT, id);
    const row = this.statement(sql).get(...values) as StoredRow | undefined;
    return row ? decode(row) : null;
  }

  async update(next: LockRequest, expectedVersion: number): Promise<boolean> {
    return this.run(updateStatement(SQLITE_DIALECT, next, expectedVersion)) === 1;
  }

  async list(query: LockRequestQuery, limit: number): Promise<LockRequestListing> {
    return listing(this.all(listStatement(SQLITE_DIALECT, query, limit)), limit);
  }

  async listActionable(
    now: string,
    limit: number,
    uncertainBefore: string,
  ): Promise<LockRequest[]> {
    return this.all(actionableStatement(SQLITE_DIALECT, now, limit, uncertainBefore));
  }

  async claimLease(name: string, holder: string, now: string, until: string): Promise<boolean> {
    const { sql, values } = claimLeaseStatement(SQLITE_DIALECT, { name, holder, now, until });
    return this.statement(sql).get(...values) !== undefined;
  }

  async check(): Promise<void> {
    this.statement('SELECT 1 FROM lock_requests LIMIT 1').get();
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db?.close();
    this.db = null;
  }

  /** Changes: the number of rows written. */
  private run({ sql, values }: Statement): number {
    return this.statement(sql).run(...values).changes;
  }

  private all({ sql, values }: Statement): LockRequest[] {
    return (this.statement(sql).all(...values) as StoredRow[]).map(decode);
  }

  private statement(sql: string): Database.Statement {
    if (!this.db) throw new Error('the lock request store is not open');
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/**
 * A file whose table predates `next_reading_at` gains it; its requests hold null there. The look
 * and the change are one write transaction, so that two connections opening the file together
 * do not both add it.
 */
function addNextReadingAt(db: Database.Database): void {
  db.transaction(() => {
    const columns = db.prepare("SELECT name FROM pragma_table_info('lock_requests')").all() as {
      name: string;
    }[];
    if (columns.some((column) => column.name === 'next_reading_at')) return;
    db.exec(`ALTER TABLE lock_requests ADD COLUMN ${NEXT_READING_AT_COLUMN}`);
  }).immediate();
}
