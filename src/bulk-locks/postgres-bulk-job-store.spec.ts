import {
  describeWithPostgres,
  readmeGrants,
  TestDatabase,
} from '../audit/testing/postgres-test-database.js';
import { PostgresBulkJobStore } from './postgres-bulk-job-store.js';
import { bulkJobStoreContract } from './testing/bulk-job-store.contract.js';

await describeWithPostgres('PostgresBulkJobStore', () => {
  bulkJobStoreContract('PostgresBulkJobStore, as a role with the README grants', async () => {
    const db = await TestDatabase.create();
    const owner = new PostgresBulkJobStore({ databaseUrl: db.url, migrate: 'auto' });
    await owner.open();
    await owner.close();
    const gateway = await db.createRole();
    for (const grant of readmeGrants(gateway, db.name)) await db.query(grant);
    const stores: PostgresBulkJobStore[] = [];
    return {
      store: () => {
        const store = new PostgresBulkJobStore({ databaseUrl: db.urlAs(gateway), migrate: 'off' });
        stores.push(store);
        return store;
      },
      cleanup: async () => {
        await Promise.all(stores.map((store) => store.close()));
        await db.drop();
      },
    };
  });
});
