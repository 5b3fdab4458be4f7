import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { requireService } from '../../common/testing/require-service.js';

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

  async clear(): Promise<void> {
    const keys = await this.keys();
    if (keys.length > 0) await this.client.del(...keys);
  }

  async close(): Promise<void> {
    await this.clear();
    await this.client.quit();
  }
}
