import { DEFAULT_REPLICA_LEASE_SECONDS, type AuditConfig } from './audit.config.js';
import type { AuditStore } from './audit-store.js';
import { createAuditStore } from './create-audit-store.js';

export interface VerifyCommandResult {
  /** 0 chain intact, 1 chain broken, 2 the store could not be verified at all. */
  exitCode: 0 | 1 | 2;
  output: string;
}

/** `npm run audit:verify`: recomputes the chain of the configured store, read-only. */
export async function runVerify(
  config: Pick<AuditConfig, 'sqlitePath' | 'databaseUrl'>,
): Promise<VerifyCommandResult> {
  let store: AuditStore | undefined;
  try {
    // Verification only reads: it never migrates and holds no lease.
    store = createAuditStore({
      ...config,
      migrate: 'off',
      replicaLeaseSeconds: DEFAULT_REPLICA_LEASE_SECONDS,
    });
    await store.open('readonly');
    const result = await store.verify();
    if (result.ok) return { exitCode: 0, output: `audit chain OK: ${result.rows} rows\n` };
    const { seq, id, reason } = result.firstBroken;
    return { exitCode: 1, output: `audit chain BROKEN at seq ${seq} (id ${id}): ${reason}\n` };
  } catch (error) {
    // The store's own words ("unable to open database file").
    const reason = error instanceof Error ? error.message : String(error);
    const location = store?.location ?? 'the audit store';
    return { exitCode: 2, output: `audit chain not verified: ${location}: ${reason}\n` };
  } finally {
    await store?.close();
  }
}
