import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { iamConfig } from '../auth/iam/iam.config.js';
import { PolicyAdmission } from './policy-admission.js';
import { PolicyEvaluator } from './policy-evaluator.js';
import { PolicyStore } from './policy-store.js';
import { policyConfig } from './policy.config.js';

@Module({
  imports: [ConfigModule.forFeature(policyConfig), ConfigModule.forFeature(iamConfig)],
  providers: [PolicyAdmission, PolicyStore, PolicyEvaluator],
  exports: [PolicyStore, PolicyEvaluator],
})
export class PolicyModule {}
