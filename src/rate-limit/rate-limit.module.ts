import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { RedisModule } from '../redis/redis.module.js';
import { rateLimitConfig } from './rate-limit.config.js';
import { RateLimits } from './rate-limits.js';

/** The counters behind `PrincipalRateLimitGuard`, which the app module registers. */
@Module({
  imports: [ConfigModule.forFeature(rateLimitConfig), RedisModule],
  providers: [RateLimits],
  exports: [RateLimits],
})
export class RateLimitModule {}
