import { ConfigModule } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { CommonModule } from '../common/common.module.js';
import { AuditTrail } from './audit-trail.js';
import { auditConfig } from './audit.config.js';
import { AuditModule } from './audit.module.js';
import { AuditStore } from './audit-store.js';
import { ThreadedSqliteAuditStore } from './threaded-sqlite-audit-store.js';
import { anAttempt, AuditStoreDir } from './testing/audit-fixtures.js';

describe('AuditModule', () => {
  const saved = { ...process.env };
  let dir: AuditStoreDir;

  beforeEach(() => {
    dir = new AuditStoreDir();
  });

  afterEach(async () => {
    process.env = { ...saved };
    await dir.cleanup();
  });

  it('provides the SQLite trail at AUDIT_SQLITE_PATH, creating its directory', async () => {
    process.env.AUDIT_SQLITE_PATH = dir.file('nested/dir/audit.sqlite');
    const app = await Test.createTestingModule({
      imports: [ConfigModule.forRoot({ ignoreEnvFile: true }), CommonModule, AuditModule],
    }).compile();
    await app.init();

    expect(app.get(AuditStore)).toBeInstanceOf(ThreadedSqliteAuditStore);
    const trail = app.get(AuditTrail);
    await trail.recordSealed(anAttempt(), { outcome: 'succeeded', durationMs: 1 });
    expect(await trail.verify()).toEqual({ ok: true, rows: 1 });
    await app.close();
  });
});

describe('auditConfig', () => {
  const saved = { ...process.env };

  afterEach(() => {
    process.env = { ...saved };
  });

  it('defaults to ./data/audit.sqlite and no PostgreSQL store', () => {
    delete process.env.AUDIT_SQLITE_PATH;
    delete process.env.AUDIT_DATABASE_URL;

    expect(auditConfig()).toEqual({
      sqlitePath: `${process.cwd()}/data/audit.sqlite`,
      databaseUrl: null,
      migrate: 'auto',
      replicaLeaseSeconds: 30,
    });
  });

  it('accepts postgres and postgresql URLs, socket URLs included', () => {
    for (const url of [
      'postgres://audit:pw@db.internal:5432/audit',
      'postgresql://db.internal/audit?sslmode=require',
      'postgresql:///audit?host=/run/postgresql',
    ]) {
      process.env.AUDIT_DATABASE_URL = url;
      expect(auditConfig().databaseUrl).toBe(url);
    }
  });

  it('reads AUDIT_MIGRATE and AUDIT_REPLICA_LEASE_SECONDS, and names a wrong one', () => {
    process.env.AUDIT_MIGRATE = 'off';
    process.env.AUDIT_REPLICA_LEASE_SECONDS = '5';
    expect(auditConfig()).toMatchObject({ migrate: 'off', replicaLeaseSeconds: 5 });

    process.env.AUDIT_MIGRATE = 'sometimes';
    expect(() => auditConfig()).toThrow(/AUDIT_MIGRATE must be auto or off/);
    process.env.AUDIT_MIGRATE = 'auto';
    process.env.AUDIT_REPLICA_LEASE_SECONDS = '0';
    expect(() => auditConfig()).toThrow(/AUDIT_REPLICA_LEASE_SECONDS/);
  });

  it('names a wrong AUDIT_DATABASE_URL without repeating it', () => {
    process.env.AUDIT_DATABASE_URL = 'mysql://audit:s3cret-pw@db.internal/audit';

    expect(() => auditConfig()).toThrow(/AUDIT_DATABASE_URL must be a postgres/);
    expect(() => auditConfig()).not.toThrow(/s3cret-pw/);
  });
});
