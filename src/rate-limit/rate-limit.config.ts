import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';

class RateLimitEnv {
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000) RATE_LIMIT_MUTATIONS_PER_MINUTE?: number;
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000) RATE_LIMIT_READS_PER_MINUTE?: number;
}

/** Calls per principal per minute, both channels together, across every replica sharing Redis. */
export interface RateLimitConfig {
  mutationsPerMinute: number;
  readsPerMinute: number;
}

export const rateLimitConfig = registerAs('rateLimit', (): RateLimitConfig => {
  const env = validateEnv(process.env, RateLimitEnv);
  return {
    mutationsPerMinute: env.RATE_LIMIT_MUTATIONS_PER_MINUTE ?? 30,
    readsPerMinute: env.RATE_LIMIT_READS_PER_MINUTE ?? 600,
  };
});
