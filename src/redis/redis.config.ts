import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, IsUrl, Matches, Max, Min } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';

class RedisEnv {
  // The message never repeats the value: a Redis URL may carry a password.
  @IsOptional()
  @IsUrl(
    { require_tld: false, require_protocol: true, protocols: ['redis', 'rediss'] },
    { message: 'must be a redis:// or rediss:// URL' },
  )
  REDIS_URL?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9:_.-]{1,64}$/, {
    message: 'must be 1 to 64 letters, digits or ":_.-"',
  })
  REDIS_KEY_PREFIX?: string;

  @IsOptional() @IsInt() @Min(50) @Max(60_000) REDIS_COMMAND_TIMEOUT_MS?: number;
}

export interface RedisConfig {
  /** Unset: every shared state stays in this process's memory. */
  url?: string;
  /** Put before every key the gateway writes, so that several deployments can share a Redis. */
  keyPrefix: string;
  /** How long a command may take before it counts as failed and the in-process fallback answers. */
  commandTimeoutMs: number;
}

/** Short: a Redis that stalls must cost a request little. */
const DEFAULT_COMMAND_TIMEOUT_MS = 500;

export const redisConfig = registerAs('redis', (): RedisConfig => {
  const env = validateEnv(process.env, RedisEnv);
  return {
    url: env.REDIS_URL,
    keyPrefix: env.REDIS_KEY_PREFIX ?? 'vlg:',
    commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS ?? DEFAULT_COMMAND_TIMEOUT_MS,
  };
});
