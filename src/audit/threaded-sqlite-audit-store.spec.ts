import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { openEvent, sealRow, type ChainHead } from './audit-chain.js';
import { CRASHED_ERROR_CODE, type AuditEvent } from './audit-record.js';
import { encodeRow } from './audit-row.js';
import { AuditTrail } from './audit-trail.js';
import { ThreadedSqliteAuditStore } from './threaded-sqlite-audit-store.js';
import { anAttempt, AuditStoreDir } from './testing/audit-fixtures.js';
import { auditStoreContract, expectUnavailable } from './testing/audit-store.contract.js';
import { execOnOwnConnection } from './testing/sqlite-own-connection.js';
import { Clock } from '../common/clock.js';
import { Tracing } from '../tracing/tracing.js';

const succeeded = { outcome: 'succeeded', upstreamStatus: 200, durationMs: 41 } as const;

/** `sql` on a connection of its own, with the sealed-row triggers dropped first when asked. */
function onOwnConnection(file: string, sql: string, dropTriggers: boolean): void {
  const drop = dropTriggers
    ? 'DROP TRIGGER IF EXISTS audit_events_sealed_no_update; DROP TRIGGER IF EXISTS audit_events_sealed_no_delete; '
    : '';
  execOnOwnConnection(file, `${drop}${sql}`);
}

/**
 * The schema as the gateway created it before lock requests: fewer actions and channels in the
 * CHECKs, no lock_request_id or settles_audit_id.
 */
const SCHEMA_BEFORE_LOCK_REQUESTS = `
CREATE TABLE audit_events (
  id TEXT NOT NULL,
  seq INTEGER,
  started_at TEXT NOT NULL,
  completed_at TEXT,
  request_id TEXT NOT NULL,
  correlation_id TEXT,
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
  outcome TEXT CHECK (outcome IN ('succeeded', 'denied', 'rejected', 'failed', 'unknown')),
  upstream_status INTEGER,
  error_code TEXT,
  duration_ms INTEGER,
  prev_hash TEXT,
  hash TEXT,
  PRIMARY KEY (id),
  UNIQUE (seq),
  CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (outcome IS NULL))
) STRICT;
CREATE INDEX audit_events_instance ON audit_events (project_id, instance_id, id);
CREATE INDEX audit_events_open ON audit_events (id) WHERE seq IS NULL;
CREATE TRIGGER audit_events_sealed_no_update
  BEFORE UPDATE ON audit_events WHEN OLD.seq IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'sealed audit rows cannot be changed'); END;
CREATE TRIGGER audit_events_sealed_no_delete
  BEFORE DELETE ON audit_events WHEN OLD.seq IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'sealed audit rows cannot be deleted'); END;
CREATE INDEX audit_events_request ON audit_events (request_id);
CREATE TABLE audit_heartbeat (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at TEXT NOT NULL
) STRICT;
`;

/**
 * Writes `file` as the gateway did before lock requests: that schema, `sealed` rows chained by
 * the same hash (a null lock_request_id is not hashed) and one attempt left open. Returns the rows.
 */
function writeBeforeLockRequests(file: string, sealed: number): AuditEvent[] {
  const db = new Database(file);
  try {
    db.exec(SCHEMA_BEFORE_LOCK_REQUESTS);
    const columns = (
      db.prepare("SELECT name FROM pragma_table_info('audit_events')").all() as { name: string }[]
    ).map((column) => column.name);
    const insert = db.prepare(
      `INSERT INTO audit_events (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
    );
    const rows: AuditEvent[] = [];
    let head: ChainHead | null = null;
    for (let n = 0; n <= sealed; n += 1) {
      const at = new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString();
      const open = openEvent(
        anAttempt({ requestId: `before-${n}`, correlationId: n === 1 ? 'caller-trace-1' : null }),
        `0190a000-0000-7000-8000-00000000000${n}`,
        at,
      );
      const row: AuditEvent = n < sealed ? sealRow(open, head, succeeded, at) : open;
      if (row.seq !== null) head = { seq: row.seq, hash: row.hash as string };
      const stored = encodeRow(row, 'integer');
      insert.run(Object.fromEntries(columns.map((column) => [column, stored[column]])));
      rows.push(row);
    }
    return rows;
  } finally {
    db.close();
  }
}

/** Every table, index and trigger of `file`, a table by its definition after its name. */
function schemaOf(file: string): { type: string; name: string; sql: string }[] {
  const db = new Database(file, { readonly: true });
  try {
    const objects = db
      .prepare('SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name')
      .all() as { type: string; name: string; sql: string }[];
    return objects.map((object) => ({ ...object, sql: object.sql.slice(object.sql.indexOf('(')) }));
  } finally {
    db.close();
  }
}

function rootPageOf(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (
      db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'audit_events'").get() as {
        rootpage: number;
      }
    ).rootpage;
  } finally {
    db.close();
  }
}

auditStoreContract('ThreadedSqliteAuditStore', async () => {
  const dir = new AuditStoreDir();
  return {
    store: () => dir.store(),
    tamper: async (sql) => onOwnConnection(dir.file(), sql, true),
    // The gateway's connection is the file itself: only the triggers stand in the way.
    asGateway: async (sql) => onOwnConnection(dir.file(), sql, false),
    cleanup: () => dir.cleanup(),
  };
});

describe('ThreadedSqliteAuditStore', () => {
  let dir: AuditStoreDir;
  let trail: AuditTrail;

  beforeEach(async () => {
    dir = new AuditStoreDir();
    trail = await dir.start();
  });

  afterEach(() => dir.cleanup());

  it('creates its directory and keeps the file in WAL mode', async () => {
    const nested = dir.file('nested/dir/audit.sqlite');
    await dir.start(nested);
    const db = new Database(nested, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('answers 503 GW.AUDIT_UNAVAILABLE on a read-only connection', async () => {
    const metrics = new GatewayMetrics();
    const store = dir.store();
    await store.open('readonly');
    const readonly = new AuditTrail(store, new Clock(), metrics, new Tracing());

    await expectUnavailable(readonly.recordAttempt(anAttempt()));
    await expectUnavailable(readonly.recordSealed(anAttempt(), succeeded));
    await expectUnavailable(readonly.checkWritable());
    const { values } = await metrics.auditWrites.get();
    expect(
      Object.fromEntries(values.map((v) => [`${v.labels.kind}/${v.labels.result}`, v.value])),
    ).toEqual({ 'attempt/error': 1, 'sealed/error': 1 });
  });

  it('answers 503 GW.AUDIT_UNAVAILABLE for writes in flight and after when its writer thread dies', async () => {
    const writer = (trail as unknown as { store: { worker: Worker } }).store.worker;
    const inFlight = trail.recordAttempt(anAttempt());
    await writer.terminate();

    await expectUnavailable(inFlight);
    await expectUnavailable(trail.recordAttempt(anAttempt()));
    await expectUnavailable(trail.checkWritable());
    expect(trail.isAlive()).toBe(false);
  });

  it('seals a row whose seal failed, with its own outcome, once the file can be written again', async () => {
    const store = new ThreadedSqliteAuditStore(dir.file('resealed.sqlite'), 100);
    const metrics = new GatewayMetrics();
    const resealed = new AuditTrail(store, new Clock(), metrics, new Tracing());
    await resealed.onModuleInit();
    try {
      const id = await resealed.recordAttempt(anAttempt());
      // Another program holds the file's write lock past the writer's busy timeout.
      const other = new Database(dir.file('resealed.sqlite'));
      other.prepare('BEGIN EXCLUSIVE').run();

      await expectUnavailable(resealed.complete(id, succeeded));
      other.prepare('COMMIT').run();
      other.close();
      for (let waited = 0; (await resealed.verify()).rows === 0 && waited < 50; waited++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      const [row] = (await resealed.list({}, 10)).events;
      expect(row).toMatchObject({ id, outcome: 'succeeded', seq: 1 });
      expect(await resealed.verify()).toMatchObject({ ok: true, rows: 1 });
      expect((await metrics.auditSealedLate.get()).values[0]?.value).toBe(1);
    } finally {
      await store.close();
    }
  }, 20_000);

  describe('a file written before correlation ids', () => {
    /** Takes the file back to the earlier schema: no correlation_id. */
    function downgrade(extraSql = ''): void {
      const db = new Database(dir.file());
      try {
        db.exec(`ALTER TABLE audit_events DROP COLUMN correlation_id; ${extraSql}`);
      } finally {
        db.close();
      }
    }

    const allEvents = async (of: AuditTrail) => (await of.list({}, 500)).events;

    it('gains the column, and its rows still verify', async () => {
      for (let n = 0; n < 3; n += 1) await trail.recordSealed(anAttempt(), succeeded);
      await trail.close();
      downgrade();

      const migrated = await dir.start();
      await migrated.recordSealed(
        anAttempt({ requestId: 'after', correlationId: 'caller-trace-1' }),
        succeeded,
      );
      expect(await migrated.verify()).toEqual({ ok: true, rows: 4 });
      const [newest, ...older] = await allEvents(migrated);
      expect(newest.correlationId).toBe('caller-trace-1');
      expect(older.map((event) => event.correlationId)).toEqual([null, null, null]);
    });

    it('keeps older rows that share a request id, and they still verify', async () => {
      await trail.recordSealed(anAttempt(), succeeded);
      const lost = await trail.recordAttempt(anAttempt({ requestId: 'reused-by-a-caller' }));
      await trail.close();
      // An earlier gateway stored callers' ids: two rows could share one.
      downgrade(`INSERT INTO audit_events (id, started_at, request_id, channel, principal_iss,
          principal_sub, caller_address, project_id, instance_id, action, dry_run,
          decision_allowed, decision_reasons, policy_version)
        SELECT '0190a000-0000-7000-8000-000000000000', started_at, request_id, channel, principal_iss,
          principal_sub, caller_address, project_id, instance_id, action, dry_run,
          decision_allowed, decision_reasons, policy_version FROM audit_events WHERE id = '${lost}'`);

      const migrated = await dir.start();
      await migrated.recordSealed(anAttempt({ requestId: 'new-1' }), succeeded);
      expect(await migrated.verify()).toEqual({ ok: true, rows: 4 });
    });
  });

  describe('a file written before lock requests', () => {
    const allEvents = async (of: AuditTrail) => (await of.list({}, 500)).events;

    it('is rebuilt in the current schema, keeps every row, and its chain still verifies', async () => {
      await trail.close();
      const file = dir.file('before.sqlite');
      const [first, second, third, open] = writeBeforeLockRequests(file, 3);

      const migrated = await dir.start(file);

      const events = await allEvents(migrated);
      expect(events.slice(1)).toEqual([third, second, first]);
      expect(events[0]).toMatchObject({
        ...open,
        seq: 4,
        outcome: 'unknown',
        errorCode: CRASHED_ERROR_CODE,
        completedAt: expect.any(String),
        prevHash: third.hash,
        hash: expect.any(String),
      });
      const lockRequestId = randomUUID();
      await migrated.recordSealed(
        anAttempt({ action: 'approve', channel: 'scheduler', lockRequestId }),
        succeeded,
      );
      expect(await migrated.verify()).toEqual({ ok: true, rows: 5 });
      expect((await migrated.list({ lockRequestId }, 10)).events).toHaveLength(1);

      const fresh = dir.file('fresh.sqlite');
      await dir.start(fresh);
      expect(schemaOf(file)).toEqual(schemaOf(fresh));
    });

    it('keeps its sealed rows protected by the triggers once rebuilt', async () => {
      await trail.close();
      const file = dir.file('before.sqlite');
      writeBeforeLockRequests(file, 2);
      await dir.start(file);

      expect(() =>
        onOwnConnection(file, "UPDATE audit_events SET outcome = 'failed' WHERE seq = 1", false),
      ).toThrow('sealed audit rows cannot be changed');
      expect(() => onOwnConnection(file, 'DELETE FROM audit_events WHERE seq = 2', false)).toThrow(
        'sealed audit rows cannot be deleted',
      );
      expect(() =>
        onOwnConnection(file, `UPDATE audit_events SET lock_request_id = 'x' WHERE seq = 1`, false),
      ).toThrow('sealed audit rows cannot be changed');
    });

    it('is rebuilt once: a file of the current schema is left as it is', async () => {
      await trail.recordSealed(anAttempt(), succeeded);
      await trail.close();
      const before = rootPageOf(dir.file());

      const reopened = await dir.start();

      expect(rootPageOf(dir.file())).toBe(before);
      expect(await reopened.verify()).toEqual({ ok: true, rows: 1 });
    });

    it('refuses a file holding a column this gateway does not know, and leaves it as it is', async () => {
      await trail.recordSealed(anAttempt(), succeeded);
      await trail.close();
      onOwnConnection(dir.file(), 'ALTER TABLE audit_events ADD COLUMN approved_by TEXT', false);
      const before = schemaOf(dir.file());

      await expect(dir.start()).rejects.toThrow(
        'the audit file has columns this gateway does not know (approved_by): it was written by a newer gateway',
      );
      expect(schemaOf(dir.file())).toEqual(before);
    });
  });
});
