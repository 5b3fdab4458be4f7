import { join } from 'node:path';
import type { CheckpointConfig } from '../audit/checkpoint.config.js';
import { SqliteCheckpointStore } from '../audit/sqlite-checkpoint-store.js';
import { AuditStoreDir } from '../audit/testing/audit-fixtures.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { ManualClock } from '../common/testing/manual-clock.js';
import { SqliteLockRequestStore } from '../lock-requests/sqlite-lock-request-store.js';
import { CHECKPOINT_LEASE, CheckpointWriter } from './checkpoint-writer.js';
import { generateSigningKey, loadSigningKey, type SigningKey } from './signing-key.js';

const START = Date.parse('2026-11-30T03:00:00.000Z');
const INTERVAL_SECONDS = 3600;
const minutesAfterStart = (minutes: number) => new Date(START + minutes * 60_000);

describe('CheckpointWriter', () => {
  let dir: AuditStoreDir;
  let key: SigningKey;
  let config: CheckpointConfig;
  const opened: { close(): Promise<void> }[] = [];

  beforeEach(async () => {
    dir = new AuditStoreDir();
    await dir.start();
    const keyFile = join(dir.path, 'signing-key.pem');
    generateSigningKey(keyFile);
    key = loadSigningKey(keyFile, false);
    config = {
      intervalSeconds: INTERVAL_SECONDS,
      signingKeyFile: keyFile,
      directory: join(dir.path, 'checkpoints'),
    };
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await dir.cleanup();
  });

  /** A replica's writer at `now`, on stores of its own over the one file. */
  async function writerAt(now: Date): Promise<{ writer: CheckpointWriter; clock: ManualClock }> {
    const leases = new SqliteLockRequestStore(dir.file());
    await leases.open();
    opened.push(leases);
    const clock = new ManualClock(now);
    const writer = new CheckpointWriter(
      new SqliteCheckpointStore(dir.file()),
      leases,
      key,
      clock,
      new GatewayMetrics(),
      config,
    );
    await writer.onModuleInit();
    return { writer, clock };
  }

  /** The times of every checkpoint, oldest first, as a fresh reader sees them. */
  async function checkpointTimes(): Promise<string[]> {
    const reader = new SqliteCheckpointStore(dir.file());
    await reader.open('readonly');
    opened.push(reader);
    return (await reader.all()).map((checkpoint) => checkpoint.time);
  }

  /** A replica that starts at `minutes` and stops at once: its start and shutdown checkpoints. */
  async function startAndStop(minutes: number): Promise<void> {
    const { writer } = await writerAt(minutesAfterStart(minutes));
    writer.onApplicationBootstrap();
    await writer.onApplicationShutdown();
  }

  it('writes one at start when the newest is half an interval old or more, and none when it is newer', async () => {
    const first = await writerAt(minutesAfterStart(0));
    await first.writer.write();
    await first.writer.onApplicationShutdown();

    await startAndStop(29);
    expect(await checkpointTimes()).toEqual(
      [0, 0, 29].map((m) => minutesAfterStart(m).toISOString()),
    );

    // Down for half an hour: the one at start comes before the shutdown's.
    await startAndStop(59);
    expect(await checkpointTimes()).toEqual(
      [0, 0, 29, 59, 59].map((m) => minutesAfterStart(m).toISOString()),
    );
  });

  it('writes none at start on a trail without checkpoints: there is no gap to close', async () => {
    await startAndStop(0);

    expect(await checkpointTimes()).toEqual([minutesAfterStart(0).toISOString()]);
  });

  it('leaves it to the replica holding the checkpoint lease, like the periodic ones', async () => {
    const first = await writerAt(minutesAfterStart(0));
    await first.writer.write();
    await first.writer.onApplicationShutdown();
    const leases = new SqliteLockRequestStore(dir.file());
    await leases.open();
    opened.push(leases);
    const now = minutesAfterStart(90);
    await leases.claimLease(
      CHECKPOINT_LEASE,
      'another replica',
      now.toISOString(),
      minutesAfterStart(100).toISOString(),
    );

    await startAndStop(90);

    expect(await checkpointTimes()).toEqual(
      [0, 0, 90].map((m) => minutesAfterStart(m).toISOString()),
    );
  });
});
