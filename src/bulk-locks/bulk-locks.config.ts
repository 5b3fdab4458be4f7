import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';

class BulkLocksEnv {
  @IsOptional() @IsInt() @Min(1) @Max(32) BULK_CONCURRENCY?: number;
}

export interface BulkLocksConfig {
  /** Items of one job running at once, across every replica. */
  concurrency: number;
}

export const bulkLocksConfig = registerAs('bulkLocks', (): BulkLocksConfig => {
  const env = validateEnv(process.env, BulkLocksEnv);
  return { concurrency: env.BULK_CONCURRENCY ?? 4 };
});
