import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';

class FleetEnv {
  @IsOptional() @IsInt() @Min(1) @Max(64) FLEET_CONCURRENCY?: number;
  @IsOptional() @IsInt() @Min(0) @Max(60_000) FLEET_LOCK_CACHE_MS?: number;
}

export interface FleetConfig {
  /** Lock reads one fleet page has in flight at once. */
  concurrency: number;
  /** How long a lock state read for the fleet is reused; 0 reads every time. */
  lockCacheMs: number;
}

export const fleetConfig = registerAs('fleet', (): FleetConfig => {
  const env = validateEnv(process.env, FleetEnv);
  return {
    concurrency: env.FLEET_CONCURRENCY ?? 8,
    lockCacheMs: env.FLEET_LOCK_CACHE_MS ?? 5000,
  };
});
