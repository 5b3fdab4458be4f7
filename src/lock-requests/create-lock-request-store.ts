import type { AuditConfig } from '../audit/audit.config.js';
import type { LockRequestStore } from './lock-request-store.js';
import { PostgresLockRequestStore } from './postgres-lock-request-store.js';
import { SqliteLockRequestStore } from './sqlite-lock-request-store.js';

/**
 * The configured store, not yet open: where the audit trail is, so PostgreSQL when
 * AUDIT_DATABASE_URL is set, else the audit trail's SQLite file.
 */
export function createLockRequestStore(config: AuditConfig): LockRequestStore {
  if (config.databaseUrl !== null) {
    return new PostgresLockRequestStore({
      databaseUrl: config.databaseUrl,
      migrate: config.migrate,
    });
  }
  return new SqliteLockRequestStore(config.sqlitePath);
}
