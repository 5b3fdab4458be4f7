import { Clock } from '../common/clock.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import type { AuditConfig } from './audit.config.js';
import { SqliteAuditTrail } from './sqlite-audit-trail.js';

export interface VerifyCommandResult {
  /** 0 chain intact, 1 chain broken, 2 the store could not be verified at all. */
  exitCode: 0 | 1 | 2;
  output: string;
}

/** `npm run audit:verify`: recomputes the chain of the configured store, read-only. */
export async function runVerify(config: AuditConfig): Promise<VerifyCommandResult> {
  if (config.databaseUrl !== null) {
    return {
      exitCode: 2,
      output:
        'AUDIT_DATABASE_URL is set, but this release can verify only the SQLite audit store ' +
        '(AUDIT_SQLITE_PATH)\n',
    };
  }
  const trail = new SqliteAuditTrail(config, new Clock(), new GatewayMetrics());
  try {
    trail.open('readonly');
    const result = await trail.verify();
    if (result.ok) return { exitCode: 0, output: `audit chain OK: ${result.rows} rows\n` };
    const { seq, id, reason } = result.firstBroken;
    return { exitCode: 1, output: `audit chain BROKEN at seq ${seq} (id ${id}): ${reason}\n` };
  } catch (error) {
    // The store's own words ("unable to open database file"), not the 503 they were wrapped in.
    const failure = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const reason = failure instanceof Error ? failure.message : String(failure);
    return { exitCode: 2, output: `audit chain not verified: ${config.sqlitePath}: ${reason}\n` };
  } finally {
    trail.close();
  }
}
