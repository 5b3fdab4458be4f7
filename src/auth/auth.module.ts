import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { authConfig } from './auth.config.js';
import { IamModule } from './iam/iam.module.js';
import { InternalTokenVerifier } from './internal-token-verifier.js';

@Module({
  imports: [ConfigModule.forFeature(authConfig), IamModule],
  providers: [InternalTokenVerifier],
  exports: [InternalTokenVerifier, IamModule, ConfigModule],
})
export class AuthModule {}
