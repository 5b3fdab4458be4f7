import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { redisConfig } from './redis.config.js';
import { RedisConnection } from './redis-connection.js';

@Module({
  imports: [ConfigModule.forFeature(redisConfig)],
  providers: [RedisConnection],
  exports: [RedisConnection],
})
export class RedisModule {}
