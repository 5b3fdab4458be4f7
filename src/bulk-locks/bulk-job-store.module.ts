import { Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { auditConfig, type AuditConfig } from '../audit/audit.config.js';
import { BulkJobStore } from './bulk-job-store.js';
import { createBulkJobStore } from './create-bulk-job-store.js';

/** Provides the BulkJobStore beside the audit trail, open from init until shutdown. */
@Module({
  imports: [ConfigModule.forFeature(auditConfig)],
  providers: [
    {
      provide: BulkJobStore,
      inject: [auditConfig.KEY],
      useFactory: (config: AuditConfig) => createBulkJobStore(config),
    },
  ],
  exports: [BulkJobStore],
})
export class BulkJobStoreModule implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(BulkJobStoreModule.name);

  constructor(private readonly store: BulkJobStore) {}

  async onModuleInit(): Promise<void> {
    await this.store.open();
    this.logger.log(`bulk job store ${this.store.location} open`);
  }

  /** After the runner has let its items in flight finish. */
  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
