import { afterEach, describe, expect, it } from '@jest/globals';
import { appConfig } from './app.config.js';
import { fastifyTrustProxy, parseTrustProxy } from './trust-proxy.js';

describe('parseTrustProxy', () => {
  it('reads a hop count; 0 trusts nobody', () => {
    expect(parseTrustProxy('1')).toEqual({ kind: 'hops', hops: 1 });
    expect(parseTrustProxy(' 2 ')).toEqual({ kind: 'hops', hops: 2 });
    expect(parseTrustProxy('0')).toEqual({ kind: 'none' });
  });

  it('reads a list of addresses and CIDR ranges, IPv4 and IPv6', () => {
    expect(parseTrustProxy('10.0.0.0/8, 192.0.2.7,2001:db8::/32,::1')).toEqual({
      kind: 'addresses',
      addresses: ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1'],
    });
  });

  it.each([
    ['true', 'trusting every peer would let any caller choose its audited address'],
    ['33', 'more hops than any real chain of proxies'],
    ['-1', 'not a count'],
    ['1.5', 'not a count'],
    ['10.0.0.0/33', 'IPv4 prefix over 32'],
    ['2001:db8::/129', 'IPv6 prefix over 128'],
    ['10.0.0.0/8/1', 'two prefixes'],
    ['10.0.0.0/', 'empty prefix'],
    ['10.0.0.1,', 'empty entry'],
    ['proxy.internal', 'a host name (resolved nowhere)'],
    ['loopback', "proxy-addr's names are not part of the contract"],
  ])('refuses %p (%s)', (raw) => {
    expect(parseTrustProxy(raw)).toBeNull();
  });
});

describe('fastifyTrustProxy', () => {
  it('trusts nobody by default and passes an address list on as it is', () => {
    expect(fastifyTrustProxy({ kind: 'none' })).toBe(false);
    expect(fastifyTrustProxy({ kind: 'addresses', addresses: ['10.0.0.0/8'] })).toEqual([
      '10.0.0.0/8',
    ]);
  });

  it('turns a hop count into a function that trusts exactly that many hops', () => {
    const trust = fastifyTrustProxy({ kind: 'hops', hops: 2 }) as (a: string, i: number) => boolean;
    expect([0, 1, 2].map((hop) => trust('203.0.113.1', hop))).toEqual([true, true, false]);
  });
});

describe('appConfig TRUST_PROXY', () => {
  const saved = process.env.TRUST_PROXY;
  afterEach(() => {
    if (saved === undefined) delete process.env.TRUST_PROXY;
    else process.env.TRUST_PROXY = saved;
  });

  it('defaults to trusting nobody', () => {
    delete process.env.TRUST_PROXY;
    expect(appConfig().trustedProxies).toEqual({ kind: 'none' });
  });

  it('stops the process on a wrong value, naming the variable and the rule', () => {
    process.env.TRUST_PROXY = 'yes';
    expect(() => appConfig()).toThrow(
      /TRUST_PROXY: TRUST_PROXY must be a number of proxy hops \(0 to 32\) or a comma-separated list of IP addresses or CIDR ranges/,
    );
  });
});
