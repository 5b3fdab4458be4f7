import { IsIn, IsOptional, IsString } from 'class-validator';
import { configError, validateEnv } from './validate-env.js';

class PlaintextEnv {
  /** Its values are the app config's to check. */
  @IsOptional() @IsString() NODE_ENV?: string;
  @IsOptional() @IsIn(['true', 'false']) ALLOW_HTTP_UPSTREAMS?: string;
}

/**
 * In production, the URLs that credentials travel to, or that decide whom the gateway trusts,
 * must be https: IAM receives the service account's password and the callers' tokens, TaurusDB
 * the IAM tokens, and the JWKS the keys that decide which internal tokens are genuine. Over http
 * anyone on the path could read them, or hand the gateway keys of their own. Only
 * `ALLOW_HTTP_UPSTREAMS=true` lifts this, for a network trusted end to end (compose's simulator).
 */
export function requireHttpsInProduction(variable: string, url: string): void {
  const env = validateEnv(process.env, PlaintextEnv);
  if (env.NODE_ENV !== 'production' || env.ALLOW_HTTP_UPSTREAMS === 'true') return;
  if (protocolOf(url) === 'https:') return;
  throw configError(
    variable,
    'must be an https URL when NODE_ENV=production' +
      ' (ALLOW_HTTP_UPSTREAMS=true allows http where the network to it is trusted end to end)',
  );
}

/** As the URL parser reads it (which ignores surrounding spaces); a `{region}` template too. */
function protocolOf(url: string): string | undefined {
  try {
    return new URL(url.replaceAll('{region}', 'region')).protocol;
  } catch {
    return undefined;
  }
}
