import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Clock } from '../common/clock.js';
import { AuditStore } from './audit-store.js';
import { AuditTrail } from './audit-trail.js';
import { auditConfig, type AuditConfig } from './audit.config.js';
import { createAuditStore } from './create-audit-store.js';

@Module({
  imports: [ConfigModule.forFeature(auditConfig)],
  providers: [
    {
      provide: AuditStore,
      inject: [auditConfig.KEY, Clock],
      useFactory: (config: AuditConfig, clock: Clock) => createAuditStore(config, clock),
    },
    AuditTrail,
  ],
  exports: [AuditTrail],
})
export class AuditModule {}
