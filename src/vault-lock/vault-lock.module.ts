import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';
import { LockRequestsModule } from '../lock-requests/lock-requests.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { TaurusDbModule } from '../taurusdb/taurusdb.module.js';
import { IdempotentSetLock } from './idempotent-set-lock.js';
import { VaultLockController } from './vault-lock.controller.js';
import { VaultLockResolver } from './vault-lock.resolver.js';
import { vaultLockConfig } from './vault-lock.config.js';
import { VaultLockService } from './vault-lock.service.js';

@Module({
  imports: [
    ConfigModule.forFeature(vaultLockConfig),
    AuthModule,
    PolicyModule,
    AuditModule,
    TaurusDbModule,
    IdempotencyModule,
    LockRequestsModule,
  ],
  controllers: [VaultLockController],
  providers: [VaultLockService, IdempotentSetLock, VaultLockResolver],
  exports: [VaultLockService],
})
export class VaultLockModule {}
