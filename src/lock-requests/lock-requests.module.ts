import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AuditModule } from '../audit/audit.module.js';
import { authConfig } from '../auth/auth.config.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { TaurusDbModule } from '../taurusdb/taurusdb.module.js';
import { LockRequestRecorder } from './lock-request-recorder.js';
import { LockRequestStoreModule } from './lock-request-store.module.js';
import { LockRequestsController } from './lock-requests.controller.js';
import { lockRequestsConfig } from './lock-requests.config.js';
import { LockRequestsResolver } from './lock-requests.resolver.js';
import { LockRequestsService } from './lock-requests.service.js';

/**
 * Lock requests: the people's side (request, approve, deny, cancel, read), and the recorder that
 * background execution makes its transitions through as well.
 */
@Module({
  imports: [
    ConfigModule.forFeature(lockRequestsConfig),
    ConfigModule.forFeature(authConfig),
    AuditModule,
    TaurusDbModule,
    NotificationsModule,
    LockRequestStoreModule,
  ],
  controllers: [LockRequestsController],
  providers: [LockRequestRecorder, LockRequestsService, LockRequestsResolver],
  exports: [LockRequestRecorder, LockRequestsService, LockRequestStoreModule],
})
export class LockRequestsModule {}
