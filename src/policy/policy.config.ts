import { resolve } from 'node:path';
import { registerAs } from '@nestjs/config';
import { IsNotEmpty, IsOptional, IsString } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';

class PolicyEnv {
  @IsOptional() @IsString() @IsNotEmpty() POLICY_FILE?: string;
  @IsOptional() @IsString() NODE_ENV?: string;
}

export interface PolicyConfig {
  /** Absolute path of the policy file. */
  file: string;
}

/** Bundled for development and tests; production must name its own policy. */
const EXAMPLE_POLICY = 'config/policy.example.yaml';

export const policyConfig = registerAs('policy', (): PolicyConfig => {
  const env = validateEnv(process.env, PolicyEnv);
  if (env.POLICY_FILE === undefined && env.NODE_ENV === 'production') {
    throw new Error(
      'Invalid configuration:\n  POLICY_FILE: required when NODE_ENV=production (the bundled example policy is for development only)',
    );
  }
  return { file: resolve(process.cwd(), env.POLICY_FILE ?? EXAMPLE_POLICY) };
});
