import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { LoggerModule } from 'nestjs-pino';
import { AuditEventsModule } from './audit-events/audit-events.module.js';
import { AuthModule } from './auth/auth.module.js';
import { CheckpointsModule } from './checkpoints/checkpoints.module.js';
import { BulkLocksModule } from './bulk-locks/bulk-locks.module.js';
import { InternalAuthGuard } from './auth/internal-auth.guard.js';
import { InternalTokenVerifier } from './auth/internal-token-verifier.js';
import { CommonModule } from './common/common.module.js';
import { ComplianceModule } from './compliance/compliance.module.js';
import { GatewayExceptionFilter } from './common/gateway-exception.filter.js';
import { graphqlOptions } from './common/graphql/graphql-options.js';
import { loggerParams } from './common/logging.js';
import { GatewayValidationPipe } from './common/validation.js';
import { appConfig, type AppConfig } from './config/app.config.js';
import { FleetModule } from './fleet/fleet.module.js';
import { HealthModule } from './health/health.module.js';
import { PrincipalRateLimitGuard } from './rate-limit/principal-rate-limit.guard.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { VaultLockModule } from './vault-lock/vault-lock.module.js';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [appConfig], cache: true }),
    LoggerModule.forRootAsync({
      inject: [appConfig.KEY],
      useFactory: (config: AppConfig) => loggerParams(config),
    }),
    GraphQLModule.forRootAsync<ApolloDriverConfig>({
      driver: ApolloDriver,
      imports: [AuthModule],
      inject: [appConfig.KEY, InternalTokenVerifier],
      useFactory: (config: AppConfig, verifier: InternalTokenVerifier) =>
        graphqlOptions(config, verifier),
    }),
    CommonModule,
    AuthModule,
    VaultLockModule,
    AuditEventsModule,
    CheckpointsModule,
    FleetModule,
    BulkLocksModule,
    ComplianceModule,
    HealthModule,
    RateLimitModule,
  ],
  // Every cross-cutting filter, pipe and guard is registered here and nowhere else.
  providers: [
    // In this order: a caller is counted against its rate limit only once authenticated.
    { provide: APP_GUARD, useClass: InternalAuthGuard },
    { provide: APP_GUARD, useClass: PrincipalRateLimitGuard },
    { provide: APP_PIPE, useClass: GatewayValidationPipe },
    { provide: APP_FILTER, useClass: GatewayExceptionFilter },
  ],
})
export class AppModule {}
