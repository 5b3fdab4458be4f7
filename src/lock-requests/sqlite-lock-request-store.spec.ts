import Database from 'better-sqlite3';
import { AuditStoreDir, anAttempt } from '../audit/testing/audit-fixtures.js';
import { actionableStatement } from './lock-request-sql.js';
import { SQLITE_DIALECT, SqliteLockRequestStore } from './sqlite-lock-request-store.js';
import { aLockRequest, FIXTURE_NOW } from './testing/lock-request-fixtures.js';
import { lockRequestStoreContract } from './testing/lock-request-store.contract.js';

lockRequestStoreContract('SqliteLockRequestStore', async () => {
  const dir = new AuditStoreDir();
  const stores: SqliteLockRequestStore[] = [];
  return {
    store: () => {
      const store = new SqliteLockRequestStore(dir.file());
      stores.push(store);
      return store;
    },
    cleanup: async () => {
      await Promise.all(stores.map((store) => store.close()));
      await dir.cleanup();
    },
  };
});

describe('SqliteLockRequestStore', () => {
  let dir: AuditStoreDir;
  let store: SqliteLockRequestStore;

  beforeEach(() => {
    dir = new AuditStoreDir();
  });

  afterEach(async () => {
    await store.close();
    await dir.cleanup();
  });

  it('creates its directory, a WAL file and a STRICT table', async () => {
    const file = dir.file('nested/dir/audit.sqlite');
    store = new SqliteLockRequestStore(file);
    await store.open();

    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const table = db
        .prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'lock_requests'")
        .pluck()
        .get() as string;
      expect(table).toMatch(/\) STRICT$/);
    } finally {
      db.close();
    }
  });

  it('adds next_reading_at to a file whose table was written before it, keeping its requests', async () => {
    const file = dir.file();
    const before = new SqliteLockRequestStore(file);
    await before.open();
    const request = aLockRequest({ state: 'UNKNOWN' });
    await before.insert(request);
    await before.close();
    const older = new Database(file);
    older.exec('ALTER TABLE lock_requests DROP COLUMN next_reading_at');
    older.close();

    store = new SqliteLockRequestStore(file);
    await store.open();

    expect(await store.get(request.id)).toEqual(request);
    const noted = { ...request, nextReadingAt: FIXTURE_NOW, version: request.version + 1 };
    expect(await store.update(noted, request.version)).toBe(true);
    expect(await store.get(request.id)).toEqual(noted);
    // Matched by message: better-sqlite3's error class may come from another test file's realm.
    await expect(
      store.update({ ...noted, nextReadingAt: 'soon', version: noted.version + 1 }, noted.version),
    ).rejects.toMatchObject({ message: expect.stringMatching(/^CHECK constraint failed/) });
  });

  it('finds actionable requests through its indexes, one index per state, never by reading the whole table', async () => {
    store = new SqliteLockRequestStore(dir.file());
    await store.open();
    const { sql, values } = actionableStatement(SQLITE_DIALECT, FIXTURE_NOW, 10, FIXTURE_NOW);
    const db = new Database(dir.file(), { readonly: true });
    try {
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...values)
        .map((step) => (step as { detail: string }).detail);
      const tableReads = plan.filter((step) => / lock_requests\b/.test(step));
      expect(tableReads).toEqual([
        expect.stringMatching(/^SEARCH lock_requests USING INDEX lock_requests_pending /),
        expect.stringMatching(/^SEARCH lock_requests USING INDEX lock_requests_scheduled /),
        expect.stringMatching(/^SEARCH lock_requests USING INDEX lock_requests_executing /),
        expect.stringMatching(/^SEARCH lock_requests USING INDEX lock_requests_unknown /),
      ]);
    } finally {
      db.close();
    }
  });

  it('shares the audit trail file: both write side by side, and neither disturbs the other', async () => {
    const file = dir.file();
    store = new SqliteLockRequestStore(file);
    await store.open();
    const trail = await dir.start(file);
    const requests = Array.from({ length: 40 }, () => aLockRequest());

    await Promise.all([
      ...requests.map(async (request) => {
        await store.insert(request);
        expect(await store.update({ ...request, state: 'CANCELLED', version: 2 }, 1)).toBe(true);
      }),
      ...requests.map(() =>
        trail.recordSealed(anAttempt(), { outcome: 'succeeded', durationMs: 1 }),
      ),
    ]);

    expect(await trail.verify()).toEqual({ ok: true, rows: 40 });
    const listed = await store.list({ state: 'CANCELLED' }, 100);
    expect(listed.requests.map((r) => r.id)).toEqual(requests.map((r) => r.id).reverse());
    // The audit store opened on a file that already held lock requests, and a second lock
    // request store opens on one that holds the audit trail.
    await trail.close();
    await store.close();
    await dir.start(file);
    await store.open();
    expect(await store.get(requests[0].id)).toMatchObject({ state: 'CANCELLED', version: 2 });
  });
});
