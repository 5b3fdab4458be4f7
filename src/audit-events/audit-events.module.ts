import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AuditModule } from '../audit/audit.module.js';
import { authConfig } from '../auth/auth.config.js';
import { AuditEventsController } from './audit-events.controller.js';
import { AuditEventsResolver } from './audit-events.resolver.js';
import { AuditEventsService } from './audit-events.service.js';

@Module({
  imports: [ConfigModule.forFeature(authConfig), AuditModule],
  controllers: [AuditEventsController],
  providers: [AuditEventsService, AuditEventsResolver],
})
export class AuditEventsModule {}
