import { startTrail } from '../testing/audit-fixtures.js';
import { checkpointStoreContract } from '../testing/checkpoint-store.contract.js';
import {
  describeWithPostgres,
  readmeGrants,
  TestDatabase,
} from '../testing/postgres-test-database.js';
import { PostgresAuditStore } from './postgres-audit-store.js';
import { PostgresCheckpointStore } from './postgres-checkpoint-store.js';

await describeWithPostgres('PostgresCheckpointStore', () => {
  checkpointStoreContract('PostgresCheckpointStore, as a role with the README grants', async () => {
    const db = await TestDatabase.create();
    const owner = new PostgresCheckpointStore({ databaseUrl: db.url, migrate: 'auto' });
    await owner.open('readwrite');
    await owner.close();
    const gateway = await db.createRole();
    for (const grant of readmeGrants(gateway, db.name)) await db.query(grant);
    const stores: PostgresCheckpointStore[] = [];
    const audits: PostgresAuditStore[] = [];
    return {
      trail: () => {
        const audit = new PostgresAuditStore({
          databaseUrl: db.urlAs(gateway),
          migrate: 'off',
          replicaLeaseSeconds: 30,
        });
        audits.push(audit);
        return startTrail(audit);
      },
      store: () => {
        const store = new PostgresCheckpointStore({
          databaseUrl: db.urlAs(gateway),
          migrate: 'off',
        });
        stores.push(store);
        return store;
      },
      asGateway: (sql: string) => db.queryAs(gateway, sql),
      cleanup: async () => {
        await Promise.all([...stores, ...audits].map((store) => store.close()));
        await db.drop();
      },
    };
  });
});
