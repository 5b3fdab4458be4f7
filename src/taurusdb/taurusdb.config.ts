import { registerAs } from '@nestjs/config';
import { IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { requireHttpsInProduction } from '../config/https-in-production.js';
import { configError, validateEnv } from '../config/validate-env.js';
import { REGION_PATTERN, isRegion } from './region.js';

class TaurusDbEnv {
  @IsString() @IsNotEmpty() TAURUSDB_ENDPOINT!: string;
  @IsOptional() @IsString() TAURUSDB_ENDPOINTS?: string;
  @IsOptional() @Matches(REGION_PATTERN) TAURUSDB_PROBE_REGION?: string;
  @IsOptional() @IsInt() @Min(1) @Max(1000) TAURUSDB_BREAKER_THRESHOLD?: number;
  @IsOptional() @IsInt() @Min(10) @Max(600000) TAURUSDB_BREAKER_HALF_OPEN_MS?: number;
  /** Never more than a few seconds: a tag change must reach the policy promptly. */
  @IsOptional() @IsInt() @Min(0) @Max(5000) TAURUSDB_INSTANCE_CACHE_MS?: number;
}

export interface TaurusDbConfig {
  /** Base URL template without a trailing slash; `{region}` is filled from the IAM token. */
  endpoint: string;
  /** Region → base URL (no trailing slash) for the regions whose host differs. */
  endpoints: Readonly<Record<string, string>>;
  /** The region the readiness probe resolves the base URL for. */
  probeRegion: string;
  /** Consecutive failed calls to one base URL that open its circuit. */
  breakerThreshold: number;
  /** How long an open circuit answers fast before it lets one trial call through. */
  breakerHalfOpenMs: number;
  /** How long instance details (enterprise project, tags) are reused; 0 fetches every time. */
  instanceCacheMs: number;
}

const SAMPLE_REGION = 'cn-north-4';

/**
 * The IAM token travels in a header to this URL, so only plain http(s) base URLs are accepted:
 * no credentials, query or fragment that a path could be appended to by mistake.
 */
function baseUrl(variable: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value.replaceAll('{region}', SAMPLE_REGION));
  } catch {
    throw configError(variable, 'must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw configError(variable, 'must be an http(s) URL');
  }
  if (url.username || url.password || url.search || url.hash) {
    throw configError(variable, 'must not carry credentials, a query or a fragment');
  }
  requireHttpsInProduction(variable, value);
  return value.replace(/\/+$/, '');
}

function regionEndpoints(raw: string | undefined): Record<string, string> {
  if (raw === undefined) return {};
  const variable = 'TAURUSDB_ENDPOINTS';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw configError(variable, 'must be a JSON object mapping regions to base URLs');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw configError(variable, 'must be a JSON object mapping regions to base URLs');
  }
  const endpoints: Record<string, string> = {};
  for (const [region, url] of Object.entries(parsed)) {
    if (!isRegion(region)) throw configError(variable, `"${region}" is not a region name`);
    if (typeof url !== 'string' || url.includes('{region}')) {
      throw configError(variable, `the value for ${region} must be an http(s) URL`);
    }
    endpoints[region] = baseUrl(`${variable}.${region}`, url);
  }
  return endpoints;
}

export const taurusdbConfig = registerAs('taurusdb', (): TaurusDbConfig => {
  const env = validateEnv(process.env, TaurusDbEnv);
  return {
    endpoint: baseUrl('TAURUSDB_ENDPOINT', env.TAURUSDB_ENDPOINT),
    endpoints: regionEndpoints(env.TAURUSDB_ENDPOINTS),
    probeRegion: env.TAURUSDB_PROBE_REGION ?? SAMPLE_REGION,
    breakerThreshold: env.TAURUSDB_BREAKER_THRESHOLD ?? 5,
    breakerHalfOpenMs: env.TAURUSDB_BREAKER_HALF_OPEN_MS ?? 10000,
    instanceCacheMs: env.TAURUSDB_INSTANCE_CACHE_MS ?? 2000,
  };
});
