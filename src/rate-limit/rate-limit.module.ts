import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { ThrottlerModule, ThrottlerStorageService } from '@nestjs/throttler';
import { RedisConnection } from '../redis/redis-connection.js';
import { RedisModule } from '../redis/redis.module.js';
import { rateLimitConfig, type RateLimitConfig } from './rate-limit.config.js';
import { callKindOf } from './principal-rate-limit.guard.js';
import { RedisThrottlerStorage } from './redis-throttler-storage.js';

const MINUTE_MS = 60_000;

/** The throttler behind `PrincipalRateLimitGuard` (registered in the app module). */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      imports: [ConfigModule.forFeature(rateLimitConfig), RedisModule],
      inject: [rateLimitConfig.KEY, RedisConnection],
      useFactory: (config: RateLimitConfig, redis: RedisConnection) => {
        const memory = new ThrottlerStorageService();
        return {
          throttlers: [
            {
              name: 'mutations',
              ttl: MINUTE_MS,
              limit: config.mutationsPerMinute,
              skipIf: (context) => callKindOf(context) !== 'mutations',
            },
            {
              name: 'reads',
              ttl: MINUTE_MS,
              limit: config.readsPerMinute,
              skipIf: (context) => callKindOf(context) !== 'reads',
            },
          ],
          // Only Retry-After, and only when refused (set by the exception filter).
          setHeaders: false,
          storage: redis.configured ? new RedisThrottlerStorage(redis, memory) : memory,
        };
      },
    }),
  ],
  exports: [ThrottlerModule],
})
export class RateLimitModule {}
