import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AuditStore } from './audit-store.js';
import { AuditTrail } from './audit-trail.js';
import { auditConfig, type AuditConfig } from './audit.config.js';
import { createAuditStore } from './create-audit-store.js';

@Module({
  imports: [ConfigModule.forFeature(auditConfig)],
  providers: [
    {
      provide: AuditStore,
      inject: [auditConfig.KEY],
      useFactory: (config: AuditConfig) => createAuditStore(config),
    },
    AuditTrail,
  ],
  exports: [AuditTrail],
})
export class AuditModule {}
