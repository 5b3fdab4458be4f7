import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { IamModule } from '../auth/iam/iam.module.js';
import { upstreamConfig } from '../config/upstream.config.js';
import { IamAuthenticatedTaurusDb } from './iam-authenticated-taurusdb.js';
import { InstanceDetailsCache } from './instance-details-cache.js';
import { TaurusDbClient } from './taurusdb-client.js';
import { TaurusDbEndpoints } from './taurusdb-endpoints.js';
import { TaurusDb } from './taurusdb.js';
import { taurusdbConfig } from './taurusdb.config.js';

@Module({
  imports: [
    ConfigModule.forFeature(taurusdbConfig),
    ConfigModule.forFeature(upstreamConfig),
    IamModule,
  ],
  providers: [
    TaurusDbEndpoints,
    TaurusDbClient,
    InstanceDetailsCache,
    { provide: TaurusDb, useClass: IamAuthenticatedTaurusDb },
  ],
  exports: [TaurusDb, TaurusDbClient],
})
export class TaurusDbModule {}
