import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RedisConnection } from '../redis/redis-connection.js';

/**
 * One fixed window per key, counted atomically: the first hit starts the window, and every
 * replica counts in the same key. Returns the count so far and the window's remaining time.
 */
const COUNT_HIT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { hits, ttl }`;

type StorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * The throttler's counters in Redis, so that a principal's calls are counted across replicas.
 * While Redis is unavailable, the throttler's own in-memory storage counts for this process.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  constructor(
    private readonly redis: RedisConnection,
    private readonly fallback: ThrottlerStorage,
  ) {}

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<StorageRecord> {
    return this.redis.run(
      'rate-limit',
      async (redis): Promise<StorageRecord> => {
        const [hits, remainingMs] = (await redis.eval(COUNT_HIT, 1, key, ttl)) as [number, number];
        const seconds = Math.max(1, Math.ceil(remainingMs / 1000));
        const isBlocked = hits > limit;
        return {
          totalHits: hits,
          timeToExpire: seconds,
          isBlocked,
          timeToBlockExpire: isBlocked ? seconds : 0,
        };
      },
      () => this.fallback.increment(key, ttl, limit, blockDuration, throttlerName),
    );
  }
}
