import { isIP } from 'node:net';
import type { FastifyServerOptions } from 'fastify';

/**
 * Whose `X-Forwarded-For` the gateway believes when it names the caller's address (the one audit
 * rows record): nobody, the last N hops, or the listed proxies.
 */
export type TrustedProxies =
  { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'addresses'; addresses: string[] };

export const NO_TRUSTED_PROXIES: TrustedProxies = { kind: 'none' };

const MAX_HOPS = 32;

export const TRUST_PROXY_RULE = `TRUST_PROXY must be a number of proxy hops (0 to ${MAX_HOPS}) or a comma-separated list of IP addresses or CIDR ranges, such as 1 or 10.0.0.0/8,192.0.2.7`;

function isAddressOrRange(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** The value of `TRUST_PROXY`, or null when it is neither a hop count nor an address list. */
export function parseTrustProxy(raw: string): TrustedProxies | null {
  const value = raw.trim();
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > MAX_HOPS) return null;
    return hops === 0 ? NO_TRUSTED_PROXIES : { kind: 'hops', hops };
  }
  const addresses = value.split(',').map((entry) => entry.trim());
  return addresses.every(isAddressOrRange) ? { kind: 'addresses', addresses } : null;
}

/**
 * Fastify's own `trustProxy: <number>` trusts nobody (a hop count cannot check the peer), so a
 * hop count is given as the function it stands for: the socket's peer and the forwarded entries
 * nearest to it are proxies until `hops` of them have been passed. The operator who sets a hop
 * count vouches that the gateway cannot be reached except through those proxies.
 */
export function fastifyTrustProxy(trusted: TrustedProxies): FastifyServerOptions['trustProxy'] {
  switch (trusted.kind) {
    case 'none':
      return false;
    case 'hops':
      return (_address: string, hop: number) => hop < trusted.hops;
    case 'addresses':
      return trusted.addresses;
  }
}
