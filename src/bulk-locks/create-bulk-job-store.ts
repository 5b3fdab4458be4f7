import type { AuditConfig } from '../audit/audit.config.js';
import type { BulkJobStore } from './bulk-job-store.js';
import { PostgresBulkJobStore } from './postgres-bulk-job-store.js';
import { SqliteBulkJobStore } from './sqlite-bulk-job-store.js';

/** The configured store, not yet open: where the audit trail is. */
export function createBulkJobStore(config: AuditConfig): BulkJobStore {
  if (config.databaseUrl !== null) {
    return new PostgresBulkJobStore({ databaseUrl: config.databaseUrl, migrate: config.migrate });
  }
  return new SqliteBulkJobStore(config.sqlitePath);
}
