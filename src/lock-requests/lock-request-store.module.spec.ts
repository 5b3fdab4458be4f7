import { ConfigModule } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { AuditStoreDir } from '../audit/testing/audit-fixtures.js';
import { LockRequestStore } from './lock-request-store.js';
import { LockRequestStoreModule } from './lock-request-store.module.js';
import { PostgresLockRequestStore } from './postgres-lock-request-store.js';
import { SqliteLockRequestStore } from './sqlite-lock-request-store.js';
import { aLockRequest } from './testing/lock-request-fixtures.js';

describe('LockRequestStoreModule', () => {
  const saved = { ...process.env };
  let dir: AuditStoreDir;

  beforeEach(() => {
    dir = new AuditStoreDir();
  });

  afterEach(async () => {
    process.env = { ...saved };
    await dir.cleanup();
  });

  async function compiled() {
    return Test.createTestingModule({
      imports: [ConfigModule.forRoot({ ignoreEnvFile: true }), LockRequestStoreModule],
    }).compile();
  }

  it('keeps requests in the audit SQLite file, open from init until the app closes', async () => {
    process.env.AUDIT_SQLITE_PATH = dir.file('nested/audit.sqlite');
    delete process.env.AUDIT_DATABASE_URL;
    const app = await compiled();
    await app.init();
    const store = app.get(LockRequestStore);
    const request = aLockRequest();

    expect(store).toBeInstanceOf(SqliteLockRequestStore);
    expect(store.location).toBe(dir.file('nested/audit.sqlite'));
    await store.insert(request);
    expect(await store.get(request.id)).toEqual(request);

    await app.close();
    await expect(store.get(request.id)).rejects.toThrow(/not open/);
  });

  it('keeps requests in PostgreSQL when AUDIT_DATABASE_URL is set', async () => {
    process.env.AUDIT_DATABASE_URL = 'postgresql://vlg:s3cret@db.internal:5432/audit';
    const app = await compiled();

    const store = app.get(LockRequestStore);
    expect(store).toBeInstanceOf(PostgresLockRequestStore);
    expect(store.location).toBe('postgresql://db.internal:5432/audit');
  });
});
