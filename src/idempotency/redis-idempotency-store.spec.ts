import { afterEach, describe, expect, it } from '@jest/globals';
import { Clock } from '../common/clock.js';
import { closedPort } from '../redis/testing/closed-port.js';
import {
  requireRedis,
  TEST_REDIS_URL,
  TestRedisConnections,
  TestRedisSpace,
} from '../redis/testing/test-redis.js';
import { InMemoryIdempotencyStore } from './idempotency-store.js';
import { RedisIdempotencyStore } from './redis-idempotency-store.js';
import {
  claimOf,
  CONTRACT_TIMES,
  describeIdempotencyStoreContract,
} from './testing/idempotency-store.contract.js';

const describeWithRedis = (await requireRedis()) ? describe : describe.skip;

const redis = new TestRedisConnections();
const space = () => redis.space();

/** One replica's store: its own connection to Redis under the test's prefix. */
async function replica(keySpace: TestRedisSpace, url = TEST_REDIS_URL) {
  const { connection, metrics } = await redis.connect(keySpace.prefix, url);
  const memory = new InMemoryIdempotencyStore(CONTRACT_TIMES, new Clock());
  return { store: new RedisIdempotencyStore(connection, memory, CONTRACT_TIMES), memory, metrics };
}

afterEach(() => redis.close());

type Evaluate = (script: string, keys: number, ...args: (string | number)[]) => Promise<unknown>;

const ANSWER = {
  kind: 'result',
  value: { result: 'success', auditId: 'audit-1' },
} as const;

describeWithRedis('RedisIdempotencyStore', () => {
  let contractSpace: TestRedisSpace;
  describeIdempotencyStoreContract('RedisIdempotencyStore', {
    create: async () => (await replica((contractSpace = space()))).store,
    pass: (ms) => contractSpace.age(ms),
  });

  it('shares keys between replicas: one claims, the other sees it running, then its answer', async () => {
    const keySpace = space();
    const [a, b] = [await replica(keySpace), await replica(keySpace)];

    const claim = claimOf(await a.store.claim('shared-key', 'fp'));
    expect(await b.store.claim('shared-key', 'fp')).toEqual({
      kind: 'in-progress',
      fingerprint: 'fp',
    });
    await claim.complete(ANSWER);

    expect(await b.store.claim('shared-key', 'fp')).toEqual({
      kind: 'done',
      fingerprint: 'fp',
      answer: ANSWER,
    });
    expect(a.memory.peek('shared-key')).toBeUndefined();
  });

  it('honours what this replica kept in memory while Redis was down, once Redis is back', async () => {
    const { store, memory } = await replica(space());
    // As a call during an outage leaves it: claimed and answered in memory only.
    await claimOf(await memory.claim('outage-key', 'fp')).complete(ANSWER);

    expect(await store.claim('outage-key', 'fp')).toEqual({
      kind: 'done',
      fingerprint: 'fp',
      answer: ANSWER,
    });
  });

  it('keeps a claim for its lease and an answer for its keeping time, under one key', async () => {
    const keySpace = space();
    const { leaseMs, keepMs } = CONTRACT_TIMES;
    const { store } = await replica(keySpace);

    const claim = claimOf(await store.claim('timed-key', 'fp'));
    const [name] = await keySpace.keys();
    expect(name).toBe(`${keySpace.prefix}idempotency:timed-key`);
    expect(await keySpace.client.pttl(name)).toBeGreaterThan(leaseMs - 1_000);
    expect(await keySpace.client.pttl(name)).toBeLessThanOrEqual(leaseMs);

    await claim.complete(ANSWER);
    expect(await keySpace.keys()).toEqual([name]);
    expect(await keySpace.client.pttl(name)).toBeGreaterThan(keepMs - 60_000);
  });

  it('answers another replica from Redis after a claim Redis ran but did not confirm in time', async () => {
    const keySpace = space();
    const a = await replica(keySpace);
    const b = await replica(keySpace);
    // The claim's script runs in Redis, but its answer comes after the command's deadline.
    const client = (a.store as unknown as { redis: { client: { eval: Evaluate } } }).redis.client;
    const evaluate = client.eval.bind(client);
    client.eval = async (...args) => {
      client.eval = evaluate;
      await evaluate(...args);
      throw new Error('Command timed out');
    };

    const claim = claimOf(await a.store.claim('late-key', 'fp'));
    expect(await b.store.claim('late-key', 'fp')).toEqual({
      kind: 'in-progress',
      fingerprint: 'fp',
    });
    await claim.complete(ANSWER);

    expect(await b.store.claim('late-key', 'fp')).toEqual({
      kind: 'done',
      fingerprint: 'fp',
      answer: ANSWER,
    });
  });
});

describe('RedisIdempotencyStore with Redis unreachable', () => {
  it('keeps keys in this process instead, and counts the fallbacks', async () => {
    const keySpace = { prefix: 'unused:' } as TestRedisSpace;
    const { store, memory, metrics } = await replica(
      keySpace,
      `redis://127.0.0.1:${await closedPort()}`,
    );

    await claimOf(await store.claim('down-key', 'fp')).complete(ANSWER);

    expect(memory.peek('down-key')).toMatchObject({ state: 'done', answer: ANSWER });
    expect(await store.claim('down-key', 'fp')).toMatchObject({ kind: 'done', answer: ANSWER });
    const fallbacks = (await metrics.redisFallbacks.get()).values;
    expect(fallbacks.find((v) => v.labels.use === 'idempotency')?.value).toBeGreaterThan(0);
  });
});
