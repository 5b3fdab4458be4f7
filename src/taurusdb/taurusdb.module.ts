import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { upstreamConfig } from '../config/upstream.config.js';
import { InstanceDetailsCache } from './instance-details-cache.js';
import { TaurusDbClient } from './taurusdb-client.js';
import { TaurusDbEndpoints } from './taurusdb-endpoints.js';
import { taurusdbConfig } from './taurusdb.config.js';

@Module({
  imports: [ConfigModule.forFeature(taurusdbConfig), ConfigModule.forFeature(upstreamConfig)],
  providers: [TaurusDbEndpoints, TaurusDbClient, InstanceDetailsCache],
  exports: [TaurusDbEndpoints, TaurusDbClient, InstanceDetailsCache],
})
export class TaurusDbModule {}
