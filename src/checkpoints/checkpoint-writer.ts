import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import {
  checkpointFileJson,
  checkpointFileName,
  nextCheckpoint,
} from '../audit/audit-checkpoint.js';
import { checkpointConfig, type CheckpointConfig } from '../audit/checkpoint.config.js';
import { CheckpointStore, type StoredCheckpoint } from '../audit/checkpoint-store.js';
import { Clock } from '../common/clock.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { LockRequestStore } from '../lock-requests/lock-request-store.js';
import { SigningKey } from './signing-key.js';

/** The background lease that elects the one replica writing the periodic checkpoint. */
export const CHECKPOINT_LEASE = 'audit-checkpoint';

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Writes signed checkpoints of the audit chain (DESIGN §8): every interval on the replica that
 * holds the lease, on demand, on shutdown, and at start when the newest is half an interval old
 * or more. Each goes to the store first, which chains it to the newest one under the chain lock,
 * then to its write-once file.
 */
@Injectable()
export class CheckpointWriter
  implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger(CheckpointWriter.name);
  private readonly holder = randomUUID();
  private timer: NodeJS.Timeout | null = null;
  private tick: Promise<unknown> | null = null;

  constructor(
    private readonly store: CheckpointStore,
    private readonly leases: LockRequestStore,
    private readonly key: SigningKey,
    private readonly clock: Clock,
    private readonly metrics: GatewayMetrics,
    @Inject(checkpointConfig.KEY) private readonly config: CheckpointConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    mkdirSync(this.config.directory, { recursive: true });
    await this.store.open('readwrite');
    this.metrics.auditCheckpointAgeSeconds = () => this.newestAgeSeconds();
    this.logger.log(
      `audit checkpoints every ${this.config.intervalSeconds} s to ${this.config.directory}, signed by key ${this.key.keyId}`,
    );
  }

  onApplicationBootstrap(): void {
    this.inBackground(() => this.catchUp());
    this.timer = setInterval(
      () => this.inBackground(() => this.periodic()),
      this.config.intervalSeconds * 1000,
    );
    this.timer.unref();
  }

  /** Started once at a time; shutdown waits for it. */
  private inBackground(work: () => Promise<unknown>): void {
    this.tick ??= work()
      .catch((error: unknown) => this.logger.error(`audit checkpoint failed: ${messageOf(error)}`))
      .finally(() => (this.tick = null));
  }

  /**
   * After a crash or a stop the newest checkpoint may be old, and the next periodic one is an
   * interval away: the verifier allows two intervals between checkpoints. So a checkpoint is
   * written now when the newest is half an interval old or more, which keeps the time between
   * them to the downtime plus what went before it, or to one and a half intervals. Elected like
   * the periodic ones, so replicas starting together write one between them.
   */
  private async catchUp(): Promise<void> {
    const ageSeconds = await this.newestAgeSeconds();
    if (ageSeconds === null || ageSeconds < this.config.intervalSeconds / 2) return;
    const written = await this.periodic();
    if (written !== null) {
      this.logger.log(
        `audit checkpoint at start, at seq ${written.seq}: the newest was ${Math.round(ageSeconds)} s old`,
      );
    }
  }

  /**
   * After the HTTP server has closed, so the rows of the last requests are in it; every replica
   * that stops writes one, and the next start chains to it.
   */
  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.tick;
    try {
      const checkpoint = await this.write();
      this.logger.log(`shutdown audit checkpoint at seq ${checkpoint.seq}`);
    } catch (error) {
      this.logger.error(`shutdown audit checkpoint failed: ${messageOf(error)}`);
    } finally {
      await this.store.close();
    }
  }

  /** A checkpoint now, on this replica. */
  async write(): Promise<StoredCheckpoint> {
    const checkpoint = await this.store.append((head, previous) =>
      nextCheckpoint(head, previous, this.clock.now().toISOString(), this.key.privateKey),
    );
    await writeOnce(join(this.config.directory, checkpointFileName(checkpoint)), checkpoint);
    return checkpoint;
  }

  /**
   * The lease lasts half an interval: the holder's next tick finds it run out, and whichever
   * replica ticks first takes it, so one checkpoint is written about every interval and a dead
   * holder is replaced within one and a half.
   */
  private async periodic(): Promise<StoredCheckpoint | null> {
    const now = this.clock.now();
    const until = new Date(now.getTime() + (this.config.intervalSeconds * 1000) / 2);
    const elected = await this.leases.claimLease(
      CHECKPOINT_LEASE,
      this.holder,
      now.toISOString(),
      until.toISOString(),
    );
    return elected ? this.write() : null;
  }

  private async newestAgeSeconds(): Promise<number | null> {
    const [newest] = (await this.store.list(1)).checkpoints;
    return newest === undefined ? null : (this.clock.nowMs() - Date.parse(newest.time)) / 1000;
  }
}

/** `wx`: a checkpoint file is never rewritten, not even by a second write of the same one. */
async function writeOnce(path: string, checkpoint: StoredCheckpoint): Promise<void> {
  const file = await open(path, 'wx', 0o444);
  try {
    await file.writeFile(checkpointFileJson(checkpoint), 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
}
