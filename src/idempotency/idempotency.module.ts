import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Clock } from '../common/clock.js';
import { upstreamConfig, type UpstreamConfig } from '../config/upstream.config.js';
import { RedisConnection } from '../redis/redis-connection.js';
import { RedisModule } from '../redis/redis.module.js';
import {
  IdempotencyStore,
  InMemoryIdempotencyStore,
  type IdempotencyTimes,
} from './idempotency-store.js';
import { IDEMPOTENCY_TIMES, IdempotentCalls } from './idempotent-calls.js';
import { RedisIdempotencyStore } from './redis-idempotency-store.js';
import { IDEMPOTENCY_KEY_KEPT_MS } from '../domain/idempotency.js';

/**
 * A claim outlives any one upstream call by a wide margin (it is renewed every third of it
 * while the call runs), and a dead replica's claim lapses within one lease.
 */
function timesFor(upstream: UpstreamConfig): IdempotencyTimes {
  return { leaseMs: 2 * upstream.timeoutMs + 5_000, keepMs: IDEMPOTENCY_KEY_KEPT_MS };
}

/** Without REDIS_URL, in memory; with it, in Redis, memory standing in while it is down. */
function storeFor(redis: RedisConnection, times: IdempotencyTimes, clock: Clock): IdempotencyStore {
  const memory = new InMemoryIdempotencyStore(times, clock);
  return redis.configured ? new RedisIdempotencyStore(redis, memory, times) : memory;
}

@Module({
  imports: [ConfigModule.forFeature(upstreamConfig), RedisModule],
  providers: [
    { provide: IDEMPOTENCY_TIMES, inject: [upstreamConfig.KEY], useFactory: timesFor },
    {
      provide: IdempotencyStore,
      inject: [RedisConnection, IDEMPOTENCY_TIMES, Clock],
      useFactory: storeFor,
    },
    IdempotentCalls,
  ],
  exports: [IdempotentCalls],
})
export class IdempotencyModule {}
