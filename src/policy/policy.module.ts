import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { PolicyEvaluator } from './policy-evaluator.js';
import { PolicyStore } from './policy-store.js';
import { policyConfig } from './policy.config.js';

@Module({
  imports: [ConfigModule.forFeature(policyConfig)],
  providers: [PolicyStore, PolicyEvaluator],
  exports: [PolicyStore, PolicyEvaluator],
})
export class PolicyModule {}
