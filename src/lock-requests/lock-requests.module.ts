import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AuditModule } from '../audit/audit.module.js';
import { authConfig } from '../auth/auth.config.js';
import { upstreamConfig } from '../config/upstream.config.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { TaurusDbModule } from '../taurusdb/taurusdb.module.js';
import { LockRequestExecutor } from './lock-request-executor.js';
import { LockRequestRecorder } from './lock-request-recorder.js';
import { LockRequestStoreModule } from './lock-request-store.module.js';
import { LockRequestsController } from './lock-requests.controller.js';
import { lockRequestsConfig } from './lock-requests.config.js';
import { LockRequestsResolver } from './lock-requests.resolver.js';
import { LockRequestsService } from './lock-requests.service.js';
import { LostAnswerSettler } from './lost-answer-settler.js';

/**
 * Lock requests: the people's side (request, approve, deny, cancel, read) and the background
 * side (expire, execute, settle), both making their transitions through the one recorder.
 */
@Module({
  imports: [
    ConfigModule.forFeature(lockRequestsConfig),
    ConfigModule.forFeature(authConfig),
    ConfigModule.forFeature(upstreamConfig),
    AuditModule,
    TaurusDbModule,
    NotificationsModule,
    PolicyModule,
    LockRequestStoreModule,
  ],
  controllers: [LockRequestsController],
  providers: [
    LockRequestRecorder,
    LockRequestsService,
    LockRequestsResolver,
    LostAnswerSettler,
    LockRequestExecutor,
  ],
  exports: [LockRequestRecorder, LockRequestsService, LockRequestStoreModule],
})
export class LockRequestsModule {}
