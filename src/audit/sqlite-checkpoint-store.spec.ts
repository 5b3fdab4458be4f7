import { SqliteCheckpointStore } from './sqlite-checkpoint-store.js';
import { AuditStoreDir } from './testing/audit-fixtures.js';
import { checkpointStoreContract } from './testing/checkpoint-store.contract.js';
import { execOnOwnConnection } from './testing/sqlite-own-connection.js';

checkpointStoreContract('SqliteCheckpointStore', () => {
  const dir = new AuditStoreDir();
  const stores: SqliteCheckpointStore[] = [];
  return Promise.resolve({
    trail: () => dir.start(),
    store: () => {
      const store = new SqliteCheckpointStore(dir.file());
      stores.push(store);
      return store;
    },
    asGateway: async (sql: string) => execOnOwnConnection(dir.file(), sql),
    cleanup: async () => {
      await Promise.all(stores.map((store) => store.close()));
      await dir.cleanup();
    },
  });
});

describe('SqliteCheckpointStore, read-only', () => {
  it('reads a file written before checkpoints existed as one without any', async () => {
    const dir = new AuditStoreDir();
    await dir.start();
    const store = new SqliteCheckpointStore(dir.file());
    await store.open('readonly');

    expect(await store.all()).toEqual([]);
    expect(await store.list(10)).toEqual({ checkpoints: [], more: false });
    await store.close();
    await dir.cleanup();
  });
});
