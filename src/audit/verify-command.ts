import type { AuditConfig } from './audit.config.js';
import { SqliteAuditStore } from './sqlite-audit-store.js';

export interface VerifyCommandResult {
  /** 0 chain intact, 1 chain broken, 2 the store could not be verified at all. */
  exitCode: 0 | 1 | 2;
  output: string;
}

/** `npm run audit:verify`: recomputes the chain of the configured store, read-only. */
export function runVerify(config: AuditConfig): VerifyCommandResult {
  if (config.databaseUrl !== null) {
    return {
      exitCode: 2,
      output:
        'AUDIT_DATABASE_URL is set, but this release can verify only the SQLite audit store ' +
        '(AUDIT_SQLITE_PATH)\n',
    };
  }
  let store: SqliteAuditStore | undefined;
  try {
    store = SqliteAuditStore.open(config.sqlitePath, 'readonly');
    const result = store.verify();
    if (result.ok) return { exitCode: 0, output: `audit chain OK: ${result.rows} rows\n` };
    const { seq, id, reason } = result.firstBroken;
    return { exitCode: 1, output: `audit chain BROKEN at seq ${seq} (id ${id}): ${reason}\n` };
  } catch (error) {
    // The store's own words ("unable to open database file").
    const reason = error instanceof Error ? error.message : String(error);
    return { exitCode: 2, output: `audit chain not verified: ${config.sqlitePath}: ${reason}\n` };
  } finally {
    store?.close();
  }
}
