import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Clock } from '../../common/clock.js';
import { closedPort } from '../../redis/testing/closed-port.js';
import {
  requireRedis,
  TEST_REDIS_URL,
  TestRedisConnections,
  TestRedisSpace,
} from '../../redis/testing/test-redis.js';
import { InMemoryIamTokenCache } from './iam-token-cache.js';
import type { IamToken } from './iam-token.js';
import { RedisIamTokenCache } from './redis-iam-token-cache.js';
import { TokenCacheKey } from './token-cache.config.js';
import { TokenCipher } from './token-cipher.js';
import {
  CONTRACT_PROJECT,
  describeIamTokenCacheContract,
  expectSameToken,
  sampleToken,
} from './testing/iam-token-cache.contract.js';

const describeWithRedis = (await requireRedis()) ? describe : describe.skip;

const LOCK_MS = 2_000;
const PRINCIPAL = 'https://idp.example#alice';
const KEY = `oidc|${PRINCIPAL}|${CONTRACT_PROJECT}`;

const redis = new TestRedisConnections();
const space = () => redis.space();

/** One replica's cache: its own connection to Redis under the test's prefix. */
async function replica(
  keySpace: TestRedisSpace,
  key = new TokenCacheKey(randomBytes(32)),
  url = TEST_REDIS_URL,
) {
  const { connection, metrics } = await redis.connect(keySpace.prefix, url);
  const clock = new Clock();
  const memory = new InMemoryIamTokenCache(clock);
  const cache = new RedisIamTokenCache(connection, new TokenCipher(key), memory, clock, LOCK_MS);
  return { cache, memory, metrics, key, connection };
}

/** An exchange that IAM takes a while to answer, counting how often it is called. */
function slowExchange(delayMs = 100) {
  const state = { calls: 0 };
  const exchange = async (): Promise<IamToken> => {
    state.calls++;
    await sleep(delayMs);
    return sampleToken();
  };
  return { state, exchange };
}

afterEach(() => redis.close());

describeWithRedis('RedisIamTokenCache', () => {
  describeIamTokenCacheContract('RedisIamTokenCache', async () => (await replica(space())).cache);

  it('stores nothing readable: no token, principal or project in any key or value', async () => {
    const keySpace = space();
    const { cache } = await replica(keySpace);
    const token = sampleToken();

    await cache.set(KEY, token);

    const dump = await keySpace.dump();
    expect(await keySpace.keys()).toHaveLength(1);
    for (const secret of [token.value(), token.value().slice(3, 40), PRINCIPAL, 'alice']) {
      expect(dump).not.toContain(secret);
    }
    expect(dump).not.toContain(CONTRACT_PROJECT);
    expect(dump).not.toContain('ap-southeast-1');
  });

  it('keeps an entry only as long as its token lives', async () => {
    const keySpace = space();
    const { cache } = await replica(keySpace);
    const token = sampleToken(3_600_000);

    await cache.set(KEY, token);

    const [name] = await keySpace.keys();
    const ttlMs = await keySpace.client.pttl(name);
    expect(ttlMs).toBeGreaterThan(3_500_000);
    expect(ttlMs).toBeLessThanOrEqual(3_600_000);
  });

  it('misses an entry that was altered in Redis', async () => {
    const keySpace = space();
    const { cache } = await replica(keySpace);
    await cache.set(KEY, sampleToken());
    const [name] = await keySpace.keys();
    const sealed = (await keySpace.client.get(name))!;
    const bytes = Buffer.from(sealed.slice(3), 'base64');
    bytes[bytes.length >> 1] ^= 1;

    await keySpace.client.set(name, `v1.${bytes.toString('base64')}`);

    expect(await cache.get(KEY)).toBeUndefined();
  });

  it('misses an entry sealed under another TOKEN_CACHE_KEY', async () => {
    const keySpace = space();
    const { cache: writer, key } = await replica(keySpace);
    const { cache: sameKey } = await replica(keySpace, key);
    const { cache: otherKey } = await replica(keySpace);
    const token = sampleToken();

    await writer.set(KEY, token);

    expectSameToken(await sameKey.get(KEY), token);
    expect(await otherKey.get(KEY)).toBeUndefined();
  });

  it("misses an entry copied under another caller's key", async () => {
    const keySpace = space();
    const { cache } = await replica(keySpace);
    const mallory = `oidc|https://idp.example#mallory|${CONTRACT_PROJECT}`;
    await cache.set(KEY, sampleToken());
    await cache.set(mallory, sampleToken());
    const names = await keySpace.keys();
    const values = await Promise.all(names.map((n) => keySpace.client.get(n)));

    // Swap the two sealed entries.
    await keySpace.client.set(names[0], values[1]!);
    await keySpace.client.set(names[1], values[0]!);

    expect(await cache.get(KEY)).toBeUndefined();
    expect(await cache.get(mallory)).toBeUndefined();
  });

  it('makes one exchange for concurrent misses on two replicas; both get its token', async () => {
    const keySpace = space();
    const { cache: a, key } = await replica(keySpace);
    const { cache: b } = await replica(keySpace, key);
    const { state, exchange } = slowExchange();

    const [fromA, fromB] = await Promise.all([a.fill(KEY, exchange), b.fill(KEY, exchange)]);

    expect(state.calls).toBe(1);
    expect(fromA.sameAs(fromB)).toBe(true);
    expect(await keySpace.keys()).toHaveLength(1);
  });

  it('makes no second exchange when the first replica stores its token and unlocks between the miss and the lock', async () => {
    const keySpace = space();
    const { cache: a, key } = await replica(keySpace);
    const { cache: b, connection } = await replica(keySpace, key);
    const { state, exchange } = slowExchange(0);
    // B has missed the token and is about to take the lock when A's whole fill runs: A stores
    // its token and lets the lock go, so the lock B then takes is free.
    let firstLockAttempt = true;
    const run = connection.run.bind(connection);
    connection.run = (use, operation, fallback) =>
      run(
        use,
        (redis) =>
          operation(
            new Proxy(redis, {
              get(target, property) {
                if (property === 'set') {
                  return async (...args: Parameters<typeof target.set>) => {
                    if (firstLockAttempt && args.includes('NX')) {
                      firstLockAttempt = false;
                      await a.fill(KEY, exchange);
                    }
                    return target.set(...args);
                  };
                }
                const value: unknown = Reflect.get(target, property, target);
                return typeof value === 'function' ? value.bind(target) : value;
              },
            }),
          ),
        fallback,
      );

    const fromB = await b.fill(KEY, exchange);

    expect(firstLockAttempt).toBe(false);
    expect(state.calls).toBe(1);
    expectSameToken(await a.get(KEY), fromB);
  });

  it('lets a waiting replica exchange itself once the lock holder failed', async () => {
    const keySpace = space();
    const { cache: a, key } = await replica(keySpace);
    const { cache: b } = await replica(keySpace, key);
    const failure = new Error('IAM unavailable');
    const failing = async (): Promise<IamToken> => {
      await sleep(100);
      throw failure;
    };
    const { state, exchange } = slowExchange(0);

    const first = a.fill(KEY, failing);
    await sleep(20);
    const second = b.fill(KEY, exchange);

    await expect(first).rejects.toBe(failure);
    const taken = await second;
    expectSameToken(await a.get(KEY), taken);
    expect(state.calls).toBe(1);
  });

  it('does not take the token being replaced for its successor', async () => {
    const keySpace = space();
    const { cache } = await replica(keySpace);
    const old = sampleToken();
    await cache.set(KEY, old);
    const { state, exchange } = slowExchange(0);

    const successor = await cache.fill(KEY, exchange, old);

    expect(successor.sameAs(old)).toBe(false);
    expect(state.calls).toBe(1);
    expectSameToken(await cache.get(KEY), successor);
  });

  it('answers a fill from a token another replica already stored', async () => {
    const keySpace = space();
    const { cache: a, key } = await replica(keySpace);
    const { cache: b } = await replica(keySpace, key);
    const token = await a.fill(KEY, async () => sampleToken());
    const { state, exchange } = slowExchange(0);

    expectSameToken(await b.fill(KEY, exchange), token);
    expect(state.calls).toBe(0);
  });

  it('falls back to memory when Redis is unreachable', async () => {
    const { cache, memory, metrics } = await replica(
      space(),
      undefined,
      `redis://127.0.0.1:${await closedPort()}`,
    );
    const { state, exchange } = slowExchange(0);

    const token = await cache.fill(KEY, exchange);
    const again = await cache.get(KEY);

    expect(state.calls).toBe(1);
    expectSameToken(again, token);
    expectSameToken(await memory.get(KEY), token);
    const fallbacks = (await metrics.redisFallbacks.get()).values;
    expect(fallbacks.find((v) => v.labels.use === 'token-cache')?.value).toBeGreaterThan(0);
  });
});
