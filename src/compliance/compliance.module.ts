import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { iamConfig } from '../auth/iam/iam.config.js';
import { FleetModule } from '../fleet/fleet.module.js';
import { LockRequestStoreModule } from '../lock-requests/lock-request-store.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { TaurusDbModule } from '../taurusdb/taurusdb.module.js';
import { ComplianceGauge } from './compliance-gauge.js';
import { ComplianceController } from './compliance.controller.js';
import { ComplianceResolver } from './compliance.resolver.js';
import { complianceConfig } from './compliance.config.js';
import { ComplianceService } from './compliance.service.js';

@Module({
  imports: [
    ConfigModule.forFeature(complianceConfig),
    ConfigModule.forFeature(iamConfig),
    FleetModule,
    LockRequestStoreModule,
    PolicyModule,
    TaurusDbModule,
  ],
  controllers: [ComplianceController],
  providers: [ComplianceService, ComplianceResolver, ComplianceGauge],
})
export class ComplianceModule {}
