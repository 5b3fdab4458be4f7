import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min } from 'class-validator';
import { requireHttpsInProduction } from '../config/https-in-production.js';
import { validateEnv } from '../config/validate-env.js';

class AuthEnv {
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] }) AUTH_JWKS_URL!: string;
  @IsString() AUTH_ISSUER!: string;
  @IsString() AUTH_AUDIENCE!: string;
  @IsOptional() @IsString() AUTH_GROUPS_CLAIM?: string;
  @IsOptional() @IsString() AUDITOR_GROUP?: string;
  @IsOptional()
  @Matches(/^(RS|PS|ES)(256|384|512)(,(RS|PS|ES)(256|384|512))*$/, {
    message: 'AUTH_ALGORITHMS must be a comma-separated list of RS*, PS* or ES* algorithms',
  })
  AUTH_ALGORITHMS?: string;
  @IsOptional() @IsInt() @Min(0) @Max(300) AUTH_CLOCK_SKEW_SECONDS?: number;
}

export interface AuthConfig {
  jwksUrl: string;
  issuer: string;
  audience: string;
  groupsClaim: string;
  auditorGroup: string;
  /** Asymmetric algorithms only: a symmetric or `none` token can never be accepted. */
  algorithms: string[];
  clockSkewSeconds: number;
}

export const authConfig = registerAs('auth', (): AuthConfig => {
  const env = validateEnv(process.env, AuthEnv);
  requireHttpsInProduction('AUTH_JWKS_URL', env.AUTH_JWKS_URL);
  return {
    jwksUrl: env.AUTH_JWKS_URL,
    issuer: env.AUTH_ISSUER,
    audience: env.AUTH_AUDIENCE,
    groupsClaim: env.AUTH_GROUPS_CLAIM ?? 'groups',
    auditorGroup: env.AUDITOR_GROUP ?? 'auditor',
    algorithms: (env.AUTH_ALGORITHMS ?? 'RS256,PS256,ES256').split(','),
    clockSkewSeconds: env.AUTH_CLOCK_SKEW_SECONDS ?? 30,
  };
});
