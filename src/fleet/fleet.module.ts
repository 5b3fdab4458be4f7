import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { PolicyModule } from '../policy/policy.module.js';
import { TaurusDbModule } from '../taurusdb/taurusdb.module.js';
import { FleetController } from './fleet.controller.js';
import { FleetResolver } from './fleet.resolver.js';
import { fleetConfig } from './fleet.config.js';
import { FleetService } from './fleet.service.js';
import { LockStateReader } from './lock-state-reader.js';

@Module({
  imports: [ConfigModule.forFeature(fleetConfig), PolicyModule, TaurusDbModule],
  controllers: [FleetController],
  providers: [FleetService, FleetResolver, LockStateReader],
  exports: [LockStateReader],
})
export class FleetModule {}
