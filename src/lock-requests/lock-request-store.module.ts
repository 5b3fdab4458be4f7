import { Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { auditConfig, type AuditConfig } from '../audit/audit.config.js';
import { createLockRequestStore } from './create-lock-request-store.js';
import { LockRequestStore } from './lock-request-store.js';

/** Provides the LockRequestStore beside the audit trail, open from init until shutdown. */
@Module({
  imports: [ConfigModule.forFeature(auditConfig)],
  providers: [
    {
      provide: LockRequestStore,
      inject: [auditConfig.KEY],
      useFactory: (config: AuditConfig) => createLockRequestStore(config),
    },
  ],
  exports: [LockRequestStore],
})
export class LockRequestStoreModule implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LockRequestStoreModule.name);

  constructor(private readonly store: LockRequestStore) {}

  async onModuleInit(): Promise<void> {
    await this.store.open();
    this.logger.log(`lock request store ${this.store.location} open`);
  }

  /** After the HTTP server has closed: the requests in flight may still write a transition. */
  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
