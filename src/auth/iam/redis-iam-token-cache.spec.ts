import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Clock } from '../../common/clock.js';
import { ManualClock } from '../../common/testing/manual-clock.js';
import type { RedisConnection } from '../../redis/redis-connection.js';
import { closedPort } from '../../redis/testing/closed-port.js';
import {
  requireRedis,
  TEST_REDIS_URL,
  TestRedisConnections,
  TestRedisSpace,
} from '../../redis/testing/test-redis.js';
import { InMemoryIamTokenCache } from './iam-token-cache.js';
import type { IamToken } from './iam-token.js';
import { HELD_TOKEN_TRUST_MS, RedisIamTokenCache } from './redis-iam-token-cache.js';
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
  clock: Clock = new Clock(),
) {
  const { connection, metrics } = await redis.connect(keySpace.prefix, url);
  const memory = new InMemoryIamTokenCache(clock);
  const cache = new RedisIamTokenCache(connection, new TokenCipher(key), memory, clock, LOCK_MS);
  return { cache, memory, metrics, key, connection };
}

/**
 * Hands every command a replica sends to Redis to `handler`, with `send` to pass it on: to count
 * them, or to run something of the test's before or after one.
 */
function onCommands(
  connection: RedisConnection,
  handler: (name: string, args: unknown[], send: () => unknown) => unknown,
): void {
  const run = connection.run.bind(connection);
  connection.run = (use, operation, fallback) =>
    run(
      use,
      (redis) =>
        operation(
          new Proxy(redis, {
            get(target, property) {
              const value: unknown = Reflect.get(target, property, target);
              if (typeof value !== 'function') return value;
              return (...args: unknown[]) =>
                handler(String(property), args, () =>
                  (value as (...a: unknown[]) => unknown).apply(target, args),
                );
            },
          }),
        ),
      fallback,
    );
}

/** How many commands a replica has sent to Redis so far. */
function commandCount(connection: RedisConnection): { sent: number } {
  const count = { sent: 0 };
  onCommands(connection, (_name, _args, send) => {
    count.sent++;
    return send();
  });
  return count;
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
    const { cache: writer, key } = await replica(keySpace);
    const { cache } = await replica(keySpace, key);
    await writer.set(KEY, sampleToken());
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
    const { cache: writer, key } = await replica(keySpace);
    const { cache } = await replica(keySpace, key);
    const mallory = `oidc|https://idp.example#mallory|${CONTRACT_PROJECT}`;
    await writer.set(KEY, sampleToken());
    await writer.set(mallory, sampleToken());
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
    onCommands(connection, (name, args, send) => {
      if (name !== 'set' || !firstLockAttempt || !args.includes('NX')) return send();
      firstLockAttempt = false;
      return a.fill(KEY, exchange).then(send);
    });

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
  describe('the tokens each replica holds in memory', () => {
    const BOUND_SECONDS = HELD_TOKEN_TRUST_MS / 1000;

    /** Two replicas on one key space, TOKEN_CACHE_KEY and clock; B's commands are counted. */
    async function twoReplicas() {
      const keySpace = space();
      const clock = new ManualClock(new Date());
      const a = await replica(keySpace, undefined, TEST_REDIS_URL, clock);
      const b = await replica(keySpace, a.key, TEST_REDIS_URL, clock);
      return { a: a.cache, aCommands: commandCount(a.connection), b, clock };
    }

    it('answers a token it wrote or read again without a command to Redis', async () => {
      const { a, aCommands, b } = await twoReplicas();
      const bCommands = commandCount(b.connection);
      const token = sampleToken();
      await a.set(KEY, token);
      const afterSet = aCommands.sent;

      expectSameToken(await a.get(KEY), token);
      expect(aCommands.sent).toBe(afterSet);
      expectSameToken(await b.cache.get(KEY), token);
      expect(bCommands.sent).toBe(1);
      expectSameToken(await b.cache.get(KEY), token);
      expect(bCommands.sent).toBe(1);
    });

    it('reads Redis again once the bound has passed: a successor stored meanwhile is answered then', async () => {
      const { a, b, clock } = await twoReplicas();
      const bCommands = commandCount(b.connection);
      const [first, successor] = [sampleToken(), sampleToken()];
      await a.set(KEY, first);
      await b.cache.get(KEY);
      await a.set(KEY, successor);

      clock.advance(BOUND_SECONDS - 0.001);
      expectSameToken(await b.cache.get(KEY), first);
      expect(bCommands.sent).toBe(1);
      clock.advance(0.001);
      expectSameToken(await b.cache.get(KEY), successor);
      expect(bCommands.sent).toBe(2);
    });

    it('answers a token another replica evicted until the bound has passed', async () => {
      const { a, b, clock } = await twoReplicas();
      const token = sampleToken();
      await a.set(KEY, token);
      await b.cache.get(KEY);

      await a.delete(KEY, token);

      expectSameToken(await b.cache.get(KEY), token);
      clock.advance(BOUND_SECONDS);
      expect(await b.cache.get(KEY)).toBeUndefined();
    });

    it('reads Redis again once a clock set back puts the token before the time it was held', async () => {
      const { a, b, clock } = await twoReplicas();
      const bCommands = commandCount(b.connection);
      await a.set(KEY, sampleToken());
      await b.cache.get(KEY);

      clock.advance(-1);
      await b.cache.get(KEY);

      expect(bCommands.sent).toBe(2);
    });

    it('drops the token it evicts, so that the next call reads Redis; a newer one it holds stays', async () => {
      const { a, aCommands } = await twoReplicas();
      const [first, successor] = [sampleToken(), sampleToken()];
      await a.set(KEY, first);

      await a.delete(KEY, first);
      const afterDelete = aCommands.sent;
      expect(await a.get(KEY)).toBeUndefined();
      expect(aCommands.sent).toBe(afterDelete + 1);

      await a.set(KEY, successor);
      await a.delete(KEY, first);
      const afterStaleDelete = aCommands.sent;
      expectSameToken(await a.get(KEY), successor);
      expect(aCommands.sent).toBe(afterStaleDelete);
    });

    it('holds the successor its fill finds in Redis', async () => {
      const { a, b } = await twoReplicas();
      const bCommands = commandCount(b.connection);
      const first = sampleToken();
      await a.set(KEY, first);
      await b.cache.get(KEY);
      const successor = await a.fill(KEY, async () => sampleToken(), first);
      const { state, exchange } = slowExchange(0);

      expectSameToken(await b.cache.fill(KEY, exchange, first), successor);
      const afterFill = bCommands.sent;

      expect(state.calls).toBe(0);
      expectSameToken(await b.cache.get(KEY), successor);
      expect(bCommands.sent).toBe(afterFill);
    });

    it('after its own eviction of a token another replica already replaced, reads the successor from Redis', async () => {
      const { a, b } = await twoReplicas();
      const revoked = sampleToken();
      await a.set(KEY, revoked);
      await b.cache.get(KEY);
      // A was refused first: it evicted the token and stored the successor of its exchange.
      await a.delete(KEY, revoked);
      const successor = await a.fill(KEY, async () => sampleToken(), revoked);

      expectSameToken(await b.cache.get(KEY), revoked);
      await b.cache.delete(KEY, revoked);

      expectSameToken(await b.cache.get(KEY), successor);
    });

    it('does not hold a token whose read was answered after its eviction began', async () => {
      const { a, b } = await twoReplicas();
      const token = sampleToken();
      await a.set(KEY, token);
      let evictDuringRead = true;
      onCommands(b.connection, (name, _args, send) => {
        if (name !== 'get' || !evictDuringRead) return send();
        evictDuringRead = false;
        return (send() as Promise<unknown>).then(async (answer) => {
          await b.cache.delete(KEY, token);
          return answer;
        });
      });

      expectSameToken(await b.cache.get(KEY), token);

      expect(evictDuringRead).toBe(false);
      expect(await b.cache.get(KEY)).toBeUndefined();
    });

    it('does not hold a token read while its eviction was under way', async () => {
      const { a, b } = await twoReplicas();
      const token = sampleToken();
      await a.set(KEY, token);
      let readDuringEviction = true;
      onCommands(b.connection, (name, _args, send) => {
        if (name !== 'eval' || !readDuringEviction) return send();
        readDuringEviction = false;
        return b.cache.get(KEY).then((read) => {
          expectSameToken(read, token);
          return send();
        });
      });

      await b.cache.delete(KEY, token);

      expect(readDuringEviction).toBe(false);
      expect(await b.cache.get(KEY)).toBeUndefined();
    });
  });
});
