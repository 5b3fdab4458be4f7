import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { upstreamConfig } from '../../config/upstream.config.js';
import { iamConfig } from './iam.config.js';
import { IamTokenCache, InMemoryIamTokenCache } from './iam-token-cache.js';
import { IamTokenExchange } from './iam-token-exchange.js';
import { IamTokenProvider } from './iam-token-provider.js';

@Module({
  imports: [ConfigModule.forFeature(iamConfig), ConfigModule.forFeature(upstreamConfig)],
  providers: [
    IamTokenExchange,
    { provide: IamTokenCache, useClass: InMemoryIamTokenCache },
    IamTokenProvider,
  ],
  exports: [IamTokenProvider, IamTokenExchange],
})
export class IamModule {}
