import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { RedisModule } from '../redis/redis.module.js';
import { TaurusDbModule } from '../taurusdb/taurusdb.module.js';
import { HealthController } from './health.controller.js';

@Module({
  imports: [
    TerminusModule.forRoot({ logger: false }),
    AuthModule,
    PolicyModule,
    AuditModule,
    TaurusDbModule,
    RedisModule,
  ],
  controllers: [HealthController],
})
export class HealthModule {}
