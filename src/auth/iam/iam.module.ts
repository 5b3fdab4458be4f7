import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Clock } from '../../common/clock.js';
import { upstreamConfig, type UpstreamConfig } from '../../config/upstream.config.js';
import { RedisConnection } from '../../redis/redis-connection.js';
import { RedisModule } from '../../redis/redis.module.js';
import { iamConfig } from './iam.config.js';
import { IamTokenCache, InMemoryIamTokenCache } from './iam-token-cache.js';
import { IamTokenExchange } from './iam-token-exchange.js';
import { IamTokenProvider } from './iam-token-provider.js';
import { RedisIamTokenCache } from './redis-iam-token-cache.js';
import { tokenCacheConfig, type TokenCacheConfig } from './token-cache.config.js';
import { TokenCipher } from './token-cipher.js';

/** Without REDIS_URL, in memory; with it, in Redis, encrypted, memory standing in while it is down. */
function tokenCacheFor(
  redis: RedisConnection,
  { key }: TokenCacheConfig,
  upstream: UpstreamConfig,
  clock: Clock,
): IamTokenCache {
  const memory = new InMemoryIamTokenCache(clock);
  if (!redis.configured) return memory;
  if (key === undefined) throw new Error('TOKEN_CACHE_KEY is required when REDIS_URL is set');
  // An agency exchange is two IAM calls, each within the upstream deadline.
  const lockMs = 2 * upstream.timeoutMs + 1_000;
  return new RedisIamTokenCache(redis, new TokenCipher(key), memory, clock, lockMs);
}

@Module({
  imports: [
    ConfigModule.forFeature(iamConfig),
    ConfigModule.forFeature(upstreamConfig),
    ConfigModule.forFeature(tokenCacheConfig),
    RedisModule,
  ],
  providers: [
    IamTokenExchange,
    {
      provide: IamTokenCache,
      inject: [RedisConnection, tokenCacheConfig.KEY, upstreamConfig.KEY, Clock],
      useFactory: tokenCacheFor,
    },
    IamTokenProvider,
  ],
  exports: [IamTokenProvider, IamTokenExchange],
})
export class IamModule {}
