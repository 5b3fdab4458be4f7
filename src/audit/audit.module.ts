import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AuditTrail } from './audit-trail.js';
import { auditConfig } from './audit.config.js';
import { SqliteAuditTrail } from './sqlite-audit-trail.js';

@Module({
  imports: [ConfigModule.forFeature(auditConfig)],
  providers: [{ provide: AuditTrail, useClass: SqliteAuditTrail }],
  exports: [AuditTrail],
})
export class AuditModule {}
