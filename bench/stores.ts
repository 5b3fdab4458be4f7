import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TEST_POSTGRES_URL, TestDatabase } from '../src/audit/testing/postgres-test-database.js';
import { TEST_REDIS_URL, TestRedisSpace } from '../src/redis/testing/test-redis.js';

/**
 * Where the gateway keeps its state during a run: `sqlite`, the embedded default (a SQLite audit
 * file, tokens and counters in memory), or `postgres`, the shared one (PostgreSQL audit store,
 * Redis for IAM tokens, rate limits and idempotency keys).
 */
export const STORES = ['sqlite', 'postgres'] as const;
export type Store = (typeof STORES)[number];

export interface StoreSetup {
  /** The gateway's variables for this store. */
  env: Record<string, string>;
  /** For `postgres`: the run's own database and Redis key prefix, removed by `close`. */
  shared?: { database: string; redisKeyPrefix: string };
  /** Removes what the run created; call once the gateway has stopped. */
  close(): Promise<void>;
}

async function prepareShared(): Promise<StoreSetup> {
  const database = await TestDatabase.create('vlg_bench').catch((error: Error) => {
    throw new Error(
      `--store=postgres needs PostgreSQL at ${new URL(TEST_POSTGRES_URL).host}: ${error.message}`,
    );
  });
  const space = new TestRedisSpace('vlg-bench');
  try {
    await space.client.ping();
  } catch (error) {
    space.client.disconnect();
    await database.drop();
    throw new Error(
      `--store=postgres needs Redis at ${new URL(TEST_REDIS_URL).host}: ${(error as Error).message}`,
    );
  }
  return {
    env: {
      AUDIT_DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: space.prefix,
      TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
    },
    shared: { database: database.name, redisKeyPrefix: space.prefix },
    async close() {
      await Promise.all([database.drop(), space.close()]);
    },
  };
}

/** The run's store: a fresh SQLite file in `workDir`, or a fresh database and key prefix. */
export async function prepareStore(store: Store, workDir: string): Promise<StoreSetup> {
  if (store === 'postgres') return prepareShared();
  return {
    env: { AUDIT_SQLITE_PATH: join(workDir, 'audit.sqlite') },
    close: async () => undefined,
  };
}
