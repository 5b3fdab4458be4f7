import { GatewayError } from '../common/gateway-error.js';
import { TaurusDbEndpoints } from './taurusdb-endpoints.js';
import type { TaurusDbConfig } from './taurusdb.config.js';

const config: TaurusDbConfig = {
  endpoint: 'https://gaussdb.{region}.myhuaweicloud.com',
  endpoints: { 'af-south-1': 'https://gaussdb-mysql.af-south-1.myhuaweicloud.com' },
  probeRegion: 'cn-north-4',
  breakerThreshold: 5,
  breakerHalfOpenMs: 10000,
  instanceCacheMs: 0,
};

describe('TaurusDbEndpoints', () => {
  const endpoints = new TaurusDbEndpoints(config);

  it('fills the region into the template', () => {
    expect(endpoints.baseUrlFor('cn-north-4')).toBe('https://gaussdb.cn-north-4.myhuaweicloud.com');
  });

  it('prefers the region map', () => {
    expect(endpoints.baseUrlFor('af-south-1')).toBe(
      'https://gaussdb-mysql.af-south-1.myhuaweicloud.com',
    );
  });

  it('resolves the probe region', () => {
    expect(endpoints.probeBaseUrl()).toBe('https://gaussdb.cn-north-4.myhuaweicloud.com');
  });

  it.each(['', 'CN-NORTH-4', 'cn', 'evil.com/x', 'cn-north-4.attacker.com', 'a-b?x', '__proto__'])(
    'refuses the region %j with a 502',
    (region) => {
      let thrown: unknown;
      try {
        endpoints.baseUrlFor(region);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(GatewayError);
      expect(thrown).toMatchObject({ status: 502, errorCode: 'GW.UPSTREAM_ERROR' });
    },
  );
});
