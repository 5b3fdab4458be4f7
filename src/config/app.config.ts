import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsOptional, IsString, Max, Min, ValidateBy } from 'class-validator';
import {
  NO_TRUSTED_PROXIES,
  TRUST_PROXY_RULE,
  parseTrustProxy,
  type TrustedProxies,
} from './trust-proxy.js';
import { validateEnv } from './validate-env.js';

class AppEnv {
  @IsOptional() @IsInt() @Min(0) @Max(65535) PORT?: number;
  @IsOptional() @IsIn(['development', 'production', 'test']) NODE_ENV?: string;
  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: string;
  /** Where log lines go instead of stdout; the test suite uses it to scan every line it wrote. */
  @IsOptional() @IsString() LOG_FILE?: string;
  @IsOptional() @IsInt() @Min(1) @Max(600_000) HTTP_REQUEST_TIMEOUT_MS?: number;
  @IsOptional()
  @ValidateBy({
    name: 'isTrustProxy',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && parseTrustProxy(value) !== null,
      defaultMessage: () => TRUST_PROXY_RULE,
    },
  })
  TRUST_PROXY?: string;
}

export interface AppConfig {
  port: number;
  production: boolean;
  logLevel: string;
  logFile?: string;
  /** Time a client has to send its headers, and its whole request, before it is cut off. */
  requestTimeoutMs: number;
  /** Whose `X-Forwarded-For` names the caller's address; nobody's unless configured. */
  trustedProxies: TrustedProxies;
}

export const appConfig = registerAs('app', (): AppConfig => {
  const env = validateEnv(process.env, AppEnv);
  return {
    port: env.PORT ?? 3000,
    production: env.NODE_ENV === 'production',
    logLevel: env.LOG_LEVEL ?? 'info',
    logFile: env.LOG_FILE,
    requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS ?? 30_000,
    // Validated above: a value that does not parse has already stopped the process.
    trustedProxies:
      env.TRUST_PROXY === undefined ? NO_TRUSTED_PROXIES : parseTrustProxy(env.TRUST_PROXY)!,
  };
});
