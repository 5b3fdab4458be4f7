import { createPublicKey, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyIdOf } from './audit-checkpoint.js';
import { DEFAULT_REPLICA_LEASE_SECONDS, type AuditConfig } from './audit.config.js';
import type { AuditStore } from './audit-store.js';
import {
  checkCheckpointedRows,
  checkCheckpointFiles,
  describeFailure,
} from './checkpoint-verifier.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { createAuditStore, createCheckpointStore } from './create-audit-store.js';

export interface VerifyCommandResult {
  /** 0 trail intact, 1 trail tampered with, 2 the trail could not be verified at all. */
  exitCode: 0 | 1 | 2;
  output: string;
}

/** What the checkpoints are checked against: `--checkpoints`, `--public-key`, the interval. */
export interface CheckpointCheck {
  directory: string;
  publicKeyFile: string;
  intervalSeconds: number;
  now: Date;
}

type StoreConfig = Pick<AuditConfig, 'sqlitePath' | 'databaseUrl'>;

/**
 * `npm run audit:verify`: recomputes the chain of the configured store, read-only, and, given
 * the checkpoint directory and the public key, checks the signed checkpoints against it.
 */
export async function runVerify(
  config: StoreConfig,
  checkpoints?: CheckpointCheck,
): Promise<VerifyCommandResult> {
  let store: AuditStore | undefined;
  let chainLine: string;
  try {
    // Verification only reads: it never migrates and holds no lease.
    store = createAuditStore({
      ...config,
      migrate: 'off',
      replicaLeaseSeconds: DEFAULT_REPLICA_LEASE_SECONDS,
    });
    await store.open('readonly');
    const result = await store.verify();
    if (!result.ok) {
      const { seq, id, reason } = result.firstBroken;
      return { exitCode: 1, output: `audit chain BROKEN at seq ${seq} (id ${id}): ${reason}\n` };
    }
    chainLine = `audit chain OK: ${result.rows} rows\n`;
  } catch (error) {
    return notVerified(store?.location ?? 'the audit store', error);
  } finally {
    await store?.close();
  }
  if (!checkpoints) return { exitCode: 0, output: chainLine };
  const verdict = await verifyCheckpoints(config, checkpoints);
  return { exitCode: verdict.exitCode, output: chainLine + verdict.output };
}

async function verifyCheckpoints(
  config: StoreConfig,
  check: CheckpointCheck,
): Promise<VerifyCommandResult> {
  let publicKey: KeyObject;
  let files: Map<string, string>;
  try {
    publicKey = createPublicKey(readFileSync(check.publicKeyFile, 'utf8'));
    if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
  } catch (error) {
    return notVerified(check.publicKeyFile, error);
  }
  try {
    files = new Map(
      readdirSync(check.directory)
        .filter((name) => name.endsWith('.json'))
        .map((name) => [name, readFileSync(join(check.directory, name), 'utf8')]),
    );
  } catch (error) {
    return notVerified(check.directory, error);
  }
  let store: CheckpointStore | undefined;
  try {
    store = createCheckpointStore({ ...config, migrate: 'off' });
    await store.open('readonly');
    const { failures, signed } = checkCheckpointFiles({
      files,
      stored: await store.all(),
      publicKey,
      keyId: keyIdOf(publicKey),
      intervalSeconds: check.intervalSeconds,
      now: check.now,
    });
    const chain = await store.chainHashes(signed.map(({ checkpoint }) => checkpoint.seq));
    failures.push(...checkCheckpointedRows(signed, chain));
    if (failures.length === 0) {
      const newest = signed[signed.length - 1].checkpoint;
      return {
        exitCode: 0,
        output: `checkpoints OK: ${signed.length} signed by key ${keyIdOf(publicKey)}, the newest at seq ${newest.seq} (${newest.time})\n`,
      };
    }
    return {
      exitCode: 1,
      output: `checkpoints FAILED: ${failures.length} problem(s)\n${failures
        .map((failure) => `  ${describeFailure(failure)}\n`)
        .join('')}`,
    };
  } catch (error) {
    return notVerified(store?.location ?? 'the checkpoint store', error);
  } finally {
    await store?.close();
  }
}

function notVerified(location: string, error: unknown): VerifyCommandResult {
  // The store's own words ("unable to open database file").
  const reason = error instanceof Error ? error.message : String(error);
  return { exitCode: 2, output: `audit chain not verified: ${location}: ${reason}\n` };
}
