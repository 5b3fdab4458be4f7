import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { validateEnv } from './validate-env.js';

class UpstreamEnv {
  @IsOptional() @IsInt() @Min(50) @Max(120000) UPSTREAM_TIMEOUT_MS?: number;
}

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 10_000;

/** Shared by every outbound client (IAM and TaurusDB): one deadline per upstream call. */
export interface UpstreamConfig {
  timeoutMs: number;
}

export const upstreamConfig = registerAs('upstream', (): UpstreamConfig => {
  const env = validateEnv(process.env, UpstreamEnv);
  return { timeoutMs: env.UPSTREAM_TIMEOUT_MS ?? DEFAULT_UPSTREAM_TIMEOUT_MS };
});
