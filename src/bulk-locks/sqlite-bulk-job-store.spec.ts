import { AuditStoreDir, anAttempt } from '../audit/testing/audit-fixtures.js';
import { SqliteBulkJobStore } from './sqlite-bulk-job-store.js';
import { aBulkJob, fleetIds } from './testing/bulk-job-fixtures.js';
import { bulkJobStoreContract } from './testing/bulk-job-store.contract.js';

bulkJobStoreContract('SqliteBulkJobStore', async () => {
  const dir = new AuditStoreDir();
  const stores: SqliteBulkJobStore[] = [];
  return {
    store: () => {
      const store = new SqliteBulkJobStore(dir.file());
      stores.push(store);
      return store;
    },
    cleanup: async () => {
      await Promise.all(stores.map((store) => store.close()));
      await dir.cleanup();
    },
  };
});

describe('SqliteBulkJobStore', () => {
  it('shares the audit trail file: both write side by side, and neither disturbs the other', async () => {
    const dir = new AuditStoreDir();
    const file = dir.file();
    const store = new SqliteBulkJobStore(file);
    await store.open();
    const trail = await dir.start(file);
    try {
      const jobs = await Promise.all(
        Array.from({ length: 10 }, () => store.create(aBulkJob(), fleetIds(5))),
      );
      await Promise.all(
        jobs.map(() => trail.recordSealed(anAttempt(), { outcome: 'succeeded', durationMs: 1 })),
      );
      expect(await trail.verify()).toEqual({ ok: true, rows: 10 });
      expect(await store.unfinished(20)).toHaveLength(10);
    } finally {
      await trail.close();
      await store.close();
      await dir.cleanup();
    }
  });
});
