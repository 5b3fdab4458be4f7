import { afterEach, describe, expect, it } from '@jest/globals';
import { closedPort } from '../redis/testing/closed-port.js';
import { requireRedis, TEST_REDIS_URL, TestRedisConnections } from '../redis/testing/test-redis.js';
import { RateLimits } from './rate-limits.js';

const describeWithRedis = (await requireRedis()) ? describe : describe.skip;

const LIMITS = { mutationsPerMinute: 3, readsPerMinute: 5 };
const ALICE = 'https://idp.example#alice';
const BOB = 'https://idp.example#bob';

const redis = new TestRedisConnections();

async function limitsOn(url: string | undefined, prefix = 'unused:') {
  const { connection, metrics } = await redis.connect(prefix, url);
  return { limits: new RateLimits(LIMITS, connection), metrics };
}

/** How many of `calls` consumptions pass before the first refusal, and that refusal. */
async function consumeAll(limits: RateLimits[], kind: 'mutations' | 'reads', principal: string) {
  const outcomes = [];
  for (let call = 0; call < 8; call++) {
    outcomes.push(await limits[call % limits.length].consume(kind, principal));
  }
  return {
    passed: outcomes.findIndex((outcome) => outcome !== undefined),
    refusal: outcomes.find((outcome) => outcome !== undefined),
  };
}

afterEach(() => redis.close());

describe('RateLimits in memory (no REDIS_URL)', () => {
  it('refuses the call after the limit, saying when to retry', async () => {
    const { limits } = await limitsOn(undefined);
    const { passed, refusal } = await consumeAll([limits], 'mutations', ALICE);
    expect(passed).toBe(3);
    expect(refusal?.limit).toBe(3);
    expect(refusal?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refusal?.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it('counts each principal and each kind of call apart', async () => {
    const { limits } = await limitsOn(undefined);
    await consumeAll([limits], 'mutations', ALICE);
    expect(await limits.consume('mutations', BOB)).toBeUndefined();
    expect((await consumeAll([limits], 'reads', ALICE)).passed).toBe(5);
  });
});

describeWithRedis('RateLimits in Redis', () => {
  it('counts one principal across replicas', async () => {
    const space = redis.space();
    const [a, b] = [
      await limitsOn(TEST_REDIS_URL, space.prefix),
      await limitsOn(TEST_REDIS_URL, space.prefix),
    ];

    const { passed } = await consumeAll([a.limits, b.limits], 'mutations', ALICE);

    expect(passed).toBe(3);
    expect(await b.limits.consume('mutations', BOB)).toBeUndefined();
  });

  it('keeps counters that expire with their window and do not name the principal', async () => {
    const space = redis.space();
    const { limits } = await limitsOn(TEST_REDIS_URL, space.prefix);

    await limits.consume('reads', ALICE);

    const keys = await space.keys();
    expect(keys).toHaveLength(1);
    expect(await space.dump()).not.toContain('alice');
    const ttlMs = await space.client.pttl(keys[0]);
    expect(ttlMs).toBeGreaterThan(0);
    expect(ttlMs).toBeLessThanOrEqual(60_000);
  });
});

describe('RateLimits with Redis unreachable', () => {
  it('counts in this process instead', async () => {
    const { limits, metrics } = await limitsOn(`redis://127.0.0.1:${await closedPort()}`);

    const { passed } = await consumeAll([limits], 'mutations', ALICE);

    expect(passed).toBe(3);
    const fallbacks = (await metrics.redisFallbacks.get()).values;
    expect(fallbacks.find((v) => v.labels.use === 'rate-limit')?.value).toBe(8);
  });
});
