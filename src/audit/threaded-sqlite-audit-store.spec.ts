import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { AuditTrail } from './audit-trail.js';
import { anAttempt, AuditStoreDir } from './testing/audit-fixtures.js';
import { auditStoreContract, expectUnavailable } from './testing/audit-store.contract.js';
import { Clock } from '../common/clock.js';

const succeeded = { outcome: 'succeeded', upstreamStatus: 200, durationMs: 41 } as const;

/** Runs `sql` on a connection of its own, as someone with access to the file would. */
function onOwnConnection(file: string, sql: string, dropTriggers: boolean): void {
  const db = new Database(file);
  try {
    if (dropTriggers) {
      db.exec(
        'DROP TRIGGER IF EXISTS audit_events_sealed_no_update; DROP TRIGGER IF EXISTS audit_events_sealed_no_delete',
      );
    }
    db.prepare(sql).run();
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
});
