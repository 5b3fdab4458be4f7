import type { AuditStore } from './audit-store.js';
import type { AuditConfig } from './audit.config.js';
import { ThreadedSqliteAuditStore } from './threaded-sqlite-audit-store.js';

/** The configured store, not yet open. */
export function createAuditStore(config: AuditConfig): AuditStore {
  if (config.databaseUrl) {
    // Silently writing to SQLite while the operator configured PostgreSQL would scatter the trail.
    throw new Error(
      'AUDIT_DATABASE_URL is set, but this version keeps the audit trail in SQLite only: unset it and use AUDIT_SQLITE_PATH',
    );
  }
  return new ThreadedSqliteAuditStore(config.sqlitePath);
}
