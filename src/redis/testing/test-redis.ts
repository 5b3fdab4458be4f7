import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { GatewayMetrics } from '../../common/gateway-metrics.js';
import { until } from '../../common/testing/polling.js';
import { requireService } from '../../common/testing/require-service.js';
import { RedisConnection } from '../redis-connection.js';

/**
 * Far past any command on a loaded machine; no suite here makes Redis hang. Gateways started by
 * the suites that check what two gateways share get it too (`REDIS_COMMAND_TIMEOUT_MS`): a
 * command slowed past the production default would fall back to memory and fail such a test for
 * the wrong reason.
 */
export const TEST_COMMAND_TIMEOUT_MS = 5_000;

/** Well inside jest's timeout, so that a Redis never ready is named as such. */
const READY_LIMIT_MS = 10_000;

/** The Redis the suites run against: the machine's own, as in CI. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** True when the test Redis answers; see `requireService` for what happens when it does not. */
export async function requireRedis(): Promise<boolean> {
  return requireService('Redis', TEST_REDIS_URL, async () => {
    const probe = new Redis(TEST_REDIS_URL, {
      lazyConnect: true,
      connectTimeout: 1_000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    try {
      await probe.connect();
      await probe.ping();
    } finally {
      probe.disconnect();
    }
  });
}

/**
 * A key prefix of the test's (or the benchmark run's) own, and a client that sees the keys under
 * it with the prefix included (to read what the gateway stored there). `clear` removes every key
 * under it.
 */
export class TestRedisSpace {
  readonly prefix: string;
  readonly client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });

  constructor(namespace = 'vlg-test') {
    this.prefix = `${namespace}:${randomBytes(6).toString('hex')}:`;
  }

  async keys(): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(
        cursor,
        'MATCH',
        `${this.prefix}*`,
        'COUNT',
        500,
      );
      found.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return found;
  }

  /** Every key and string value under the prefix, for scanning for secrets. */
  async dump(): Promise<string> {
    const parts: string[] = [];
    for (const key of await this.keys()) {
      const type = await this.client.type(key);
      parts.push(key, type === 'string' ? ((await this.client.get(key)) ?? '') : type);
    }
    return parts.join('\n');
  }

  /** As if `ms` passed for the keys' expiry: each TTL is shortened by it, or the key expires. */
  async age(ms: number): Promise<void> {
    for (const key of await this.keys()) {
      const ttl = await this.client.pttl(key);
      if (ttl < 0) continue;
      if (ttl > ms) await this.client.pexpire(key, ttl - ms);
      else await this.client.del(key);
    }
  }

  async clear(): Promise<void> {
    const keys = await this.keys();
    if (keys.length > 0) await this.client.del(...keys);
  }

  async close(): Promise<void> {
    await this.clear();
    await this.client.quit();
  }
}

/**
 * The gateway's Redis connections and the key spaces a test opens, one connection per replica;
 * `close` (from `afterEach`) shuts the connections and empties the spaces.
 */
export class TestRedisConnections {
  private readonly connections: RedisConnection[] = [];
  private readonly spaces: TestRedisSpace[] = [];

  space(): TestRedisSpace {
    const created = new TestRedisSpace();
    this.spaces.push(created);
    return created;
  }

  /**
   * One replica's connection, with metrics of its own, keys under `keyPrefix` (no Redis at all
   * when `url` is undefined). On the test Redis it waits until the connection is ready.
   */
  async connect(
    keyPrefix: string,
    url: string | undefined,
  ): Promise<{ connection: RedisConnection; metrics: GatewayMetrics }> {
    const metrics = new GatewayMetrics();
    const connection = new RedisConnection(
      { url, keyPrefix, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS },
      metrics,
    );
    this.connections.push(connection);
    if (url === TEST_REDIS_URL) {
      // One not ready yet would answer from its in-process fallback: the test would pass or fail
      // on memory, not on Redis.
      await until(
        'the test Redis connection to be ready',
        async () => (connection.isReady() ? true : undefined),
        READY_LIMIT_MS,
      );
    }
    return { connection, metrics };
  }

  async close(): Promise<void> {
    await Promise.all(this.connections.splice(0).map((c) => c.onApplicationShutdown()));
    await Promise.all(this.spaces.splice(0).map((s) => s.close()));
  }
}
