import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { authConfig } from '../auth/auth.config.js';
import { upstreamConfig } from '../config/upstream.config.js';
import { lockRequestsConfig } from '../lock-requests/lock-requests.config.js';
import { TaurusDbModule } from '../taurusdb/taurusdb.module.js';
import { VaultLockModule } from '../vault-lock/vault-lock.module.js';
import { BulkJobStoreModule } from './bulk-job-store.module.js';
import { BulkLockRunner } from './bulk-lock-runner.js';
import { bulkLocksConfig } from './bulk-locks.config.js';
import { BulkLocksController } from './bulk-locks.controller.js';
import { BulkLocksResolver } from './bulk-locks.resolver.js';
import { BulkLocksService } from './bulk-locks.service.js';

/** Bulk locks: jobs made by people, their items run in the background on every replica. */
@Module({
  imports: [
    ConfigModule.forFeature(bulkLocksConfig),
    ConfigModule.forFeature(lockRequestsConfig),
    ConfigModule.forFeature(upstreamConfig),
    ConfigModule.forFeature(authConfig),
    TaurusDbModule,
    VaultLockModule,
    BulkJobStoreModule,
  ],
  controllers: [BulkLocksController],
  providers: [BulkLocksService, BulkLocksResolver, BulkLockRunner],
})
export class BulkLocksModule {}
