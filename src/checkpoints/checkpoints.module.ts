import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { auditConfig, type AuditConfig } from '../audit/audit.config.js';
import { checkpointConfig, type CheckpointConfig } from '../audit/checkpoint.config.js';
import { CheckpointStore } from '../audit/checkpoint-store.js';
import { createCheckpointStore } from '../audit/create-audit-store.js';
import { authConfig } from '../auth/auth.config.js';
import { appConfig, type AppConfig } from '../config/app.config.js';
import { LockRequestStoreModule } from '../lock-requests/lock-request-store.module.js';
import { CheckpointWriter } from './checkpoint-writer.js';
import { CheckpointsController } from './checkpoints.controller.js';
import { CheckpointsResolver } from './checkpoints.resolver.js';
import { CheckpointsService } from './checkpoints.service.js';
import { loadSigningKey, SigningKey } from './signing-key.js';

/**
 * Signed audit checkpoints (DESIGN §8): written beside the audit trail, elected through the
 * lock request store's background lease, read and asked for by auditors.
 */
@Module({
  imports: [
    ConfigModule.forFeature(auditConfig),
    ConfigModule.forFeature(checkpointConfig),
    ConfigModule.forFeature(authConfig),
    LockRequestStoreModule,
  ],
  controllers: [CheckpointsController],
  providers: [
    {
      provide: CheckpointStore,
      inject: [auditConfig.KEY],
      useFactory: (config: AuditConfig) => createCheckpointStore(config),
    },
    {
      provide: SigningKey,
      inject: [checkpointConfig.KEY, appConfig.KEY],
      useFactory: (config: CheckpointConfig, app: AppConfig) =>
        loadSigningKey(config.signingKeyFile, app.production),
    },
    CheckpointWriter,
    CheckpointsService,
    CheckpointsResolver,
  ],
})
export class CheckpointsModule {}
