import { migrations } from '../audit/postgres/migrations.js';
import { PostgresAuditStore } from '../audit/postgres/postgres-audit-store.js';
import { anAttempt, startTrail } from '../audit/testing/audit-fixtures.js';
import {
  describeWithPostgres,
  readmeGrants,
  TestDatabase,
} from '../audit/testing/postgres-test-database.js';
import { PostgresLockRequestStore } from './postgres-lock-request-store.js';
import { aLockRequest } from './testing/lock-request-fixtures.js';
import { lockRequestStoreContract } from './testing/lock-request-store.contract.js';

function storeOn(databaseUrl: string, migrate: 'auto' | 'off' = 'off'): PostgresLockRequestStore {
  return new PostgresLockRequestStore({ databaseUrl, migrate });
}

await describeWithPostgres('PostgresLockRequestStore', () => {
  lockRequestStoreContract(
    'PostgresLockRequestStore, as a role with the README grants',
    async () => {
      const db = await TestDatabase.create();
      const owner = storeOn(db.url, 'auto');
      await owner.open();
      await owner.close();
      const gateway = await db.createRole();
      for (const grant of readmeGrants(gateway, db.name)) await db.query(grant);
      const stores: PostgresLockRequestStore[] = [];
      return {
        store: () => {
          const store = storeOn(db.urlAs(gateway));
          stores.push(store);
          return store;
        },
        cleanup: async () => {
          await Promise.all(stores.map((store) => store.close()));
          await db.drop();
        },
      };
    },
  );

  describe('PostgresLockRequestStore', () => {
    let db: TestDatabase;
    const opened: { close(): Promise<void> }[] = [];

    beforeEach(async () => {
      db = await TestDatabase.create();
    });

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
      await db.drop();
    });

    it('shares the audit database: both migrate at start under one lock, then write side by side', async () => {
      const store = storeOn(db.url, 'auto');
      const audit = new PostgresAuditStore({
        databaseUrl: db.url,
        migrate: 'auto',
        replicaLeaseSeconds: 30,
      });
      opened.push(store, audit);
      const [, trail] = await Promise.all([store.open(), startTrail(audit)]);
      const requests = Array.from({ length: 20 }, () => aLockRequest());

      await Promise.all([
        ...requests.map(async (request) => {
          await store.insert(request);
          expect(await store.update({ ...request, state: 'CANCELLED', version: 2 }, 1)).toBe(true);
        }),
        ...requests.map(() =>
          trail.recordSealed(anAttempt(), { outcome: 'succeeded', durationMs: 1 }),
        ),
      ]);

      const applied = await db.query<{ version: number }>(
        'SELECT version FROM audit_schema_migrations ORDER BY version',
      );
      expect(applied.map((row) => row.version)).toEqual(migrations().map((m) => m.version));
      expect(await trail.verify()).toEqual({ ok: true, rows: 20 });
      const listed = await store.list({ state: 'CANCELLED' }, 50);
      expect(listed.requests.map((r) => r.id)).toEqual(requests.map((r) => r.id).reverse());
    });

    it('with AUDIT_MIGRATE=off, refuses a database whose schema is behind, saying what to run', async () => {
      const store = storeOn(db.url);
      opened.push(store);

      await expect(store.open()).rejects.toThrow(/audit schema is at version 0.*npm run migrate/);
      expect(await db.query("SELECT to_regclass('lock_requests') AS t")).toEqual([{ t: null }]);
    });

    it('names the database it keeps requests in, never its user or password', () => {
      expect(
        storeOn('postgresql://vlg:s3cret@db.internal:5432/audit?sslmode=require').location,
      ).toBe('postgresql://db.internal:5432/audit');
    });
  });
});
