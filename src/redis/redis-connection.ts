import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { redisConfig, type RedisConfig } from './redis.config.js';

/**
 * A Redis that is down must cost a request little: commands are refused at once while the
 * connection is down (no offline queue), never retried, and given up after a short deadline
 * (the config's `commandTimeoutMs`); reconnection goes on in the background, so the gateway
 * recovers by itself.
 */
export const REDIS_CLIENT_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 1_000,
  retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
};

/** Which shared state fell back to this process's memory, for the fallback counter. */
export type RedisUse = 'token-cache' | 'exchange-lock' | 'rate-limit' | 'idempotency';

/**
 * The one connection to Redis, when `REDIS_URL` is set. Every use goes through `run`, which
 * answers from an in-process fallback whenever Redis is unset, down or failing.
 */
@Injectable()
export class RedisConnection implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisConnection.name);
  private readonly client: Redis | undefined;
  private down = false;

  constructor(
    @Inject(redisConfig.KEY) config: RedisConfig,
    private readonly metrics: GatewayMetrics,
  ) {
    if (config.url === undefined) {
      this.client = undefined;
      return;
    }
    this.client = new Redis(config.url, {
      ...REDIS_CLIENT_OPTIONS,
      commandTimeout: config.commandTimeoutMs,
      keyPrefix: config.keyPrefix,
    });
    // Logged once per outage, not per reconnection attempt; never the URL (it may hold a password).
    this.client.on('error', (error: Error) => this.markDown(error.message));
    this.client.on('close', () => this.markDown('connection closed'));
    this.client.on('ready', () => this.markUp());
  }

  get configured(): boolean {
    return this.client !== undefined;
  }

  /** Connected and answering commands. */
  isReady(): boolean {
    return this.client?.status === 'ready';
  }

  /**
   * Runs `operation` against Redis; while Redis is unset, not connected, or when the operation
   * fails, answers from `fallback` instead. A fallback is counted, not logged per request.
   */
  async run<T>(
    use: RedisUse,
    operation: (redis: Redis) => Promise<T>,
    fallback: () => Promise<T> | T,
  ): Promise<T> {
    if (this.client === undefined) return fallback();
    if (this.isReady()) {
      try {
        const result = await operation(this.client);
        this.markUp();
        return result;
      } catch (error) {
        this.markDown(error instanceof Error ? error.message : String(error));
      }
    }
    this.metrics.redisFallbacks.inc({ use });
    return fallback();
  }

  /** For readiness: resolves when Redis answers a PING. */
  async ping(): Promise<void> {
    if (this.client === undefined) return;
    if (this.client.status !== 'ready')
      throw new Error(`Redis is not connected (${this.client.status})`);
    await this.client.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.client === undefined) return;
    this.client.removeAllListeners('close');
    if (this.client.status === 'ready') {
      await this.client.quit().catch(() => this.client?.disconnect());
    } else {
      this.client.disconnect();
    }
  }

  private markUp(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.log('Redis is reachable again: shared state is back in Redis');
  }

  private markDown(reason: string): void {
    if (this.down) return;
    this.down = true;
    this.logger.warn(`Redis is unavailable (${reason}): shared state falls back to this process`);
  }
}
