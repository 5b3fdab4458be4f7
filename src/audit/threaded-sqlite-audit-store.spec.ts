import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { AuditTrail } from './audit-trail.js';
import { anAttempt, AuditStoreDir } from './testing/audit-fixtures.js';
import { auditStoreContract, expectUnavailable } from './testing/audit-store.contract.js';
import { Clock } from '../common/clock.js';

const succeeded = { outcome: 'succeeded', upstreamStatus: 200, durationMs: 41 } as const;

/**
 * Runs `sql` on a connection of its own, as someone with access to the file would. SQLite's
 * refusals are rethrown as plain errors: better-sqlite3's `SqliteError` is no real Error (it has
 * Error's prototype, not its internal slot), so whether jest's `toThrow` recognises it depends on
 * which realm loaded the driver first, and that differs with the suites a jest worker ran before.
 */
function onOwnConnection(file: string, sql: string, dropTriggers: boolean): void {
  const db = new Database(file);
  try {
    if (dropTriggers) {
      db.exec(
        'DROP TRIGGER IF EXISTS audit_events_sealed_no_update; DROP TRIGGER IF EXISTS audit_events_sealed_no_delete',
      );
    }
    db.prepare(sql).run();
  } catch (error) {
    throw new Error(
      error instanceof Object && 'message' in error ? String(error.message) : String(error),
    );
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
    const readonly = new AuditTrail(store, new Clock(), metrics);

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
});
