import { taurusdbConfig } from './taurusdb.config.js';

const VARIABLES = [
  'NODE_ENV',
  'ALLOW_HTTP_UPSTREAMS',
  'TAURUSDB_ENDPOINT',
  'TAURUSDB_ENDPOINTS',
  'TAURUSDB_PROBE_REGION',
  'TAURUSDB_BREAKER_THRESHOLD',
  'TAURUSDB_BREAKER_HALF_OPEN_MS',
];

describe('taurusdbConfig', () => {
  const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));

  afterEach(() => {
    for (const name of VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  const load = (env: Record<string, string>) => {
    for (const name of VARIABLES) delete process.env[name];
    Object.assign(process.env, env);
    return taurusdbConfig();
  };

  it('reads the endpoint template and region map, dropping trailing slashes', () => {
    expect(
      load({
        TAURUSDB_ENDPOINT: 'https://gaussdb.{region}.myhuaweicloud.com/',
        TAURUSDB_ENDPOINTS:
          '{"ap-southeast-1":"https://gaussdbformysql.ap-southeast-1.myhuaweicloud.com//"}',
        TAURUSDB_BREAKER_THRESHOLD: '3',
        TAURUSDB_INSTANCE_CACHE_MS: '500',
      }),
    ).toEqual({
      endpoint: 'https://gaussdb.{region}.myhuaweicloud.com',
      endpoints: { 'ap-southeast-1': 'https://gaussdbformysql.ap-southeast-1.myhuaweicloud.com' },
      probeRegion: 'cn-north-4',
      breakerThreshold: 3,
      breakerHalfOpenMs: 10000,
      instanceCacheMs: 500,
    });
  });

  it('requires TAURUSDB_ENDPOINT', () => {
    expect(() => load({})).toThrow(/TAURUSDB_ENDPOINT/);
  });

  it.each([
    ['not a url', /TAURUSDB_ENDPOINT: must be an http/],
    ['ftp://gaussdb.{region}.example', /TAURUSDB_ENDPOINT: must be an http/],
    ['https://user:secret@gaussdb.example', /TAURUSDB_ENDPOINT: must not carry credentials/],
  ])('refuses the endpoint %s', (endpoint, message) => {
    expect(() => load({ TAURUSDB_ENDPOINT: endpoint })).toThrow(message);
  });

  it.each([
    ['{not json', /TAURUSDB_ENDPOINTS: must be a JSON object/],
    ['["https://a.example"]', /TAURUSDB_ENDPOINTS: must be a JSON object/],
    ['{"Bad Region":"https://a.example"}', /TAURUSDB_ENDPOINTS: "Bad Region" is not a region/],
    ['{"cn-north-4":42}', /TAURUSDB_ENDPOINTS: the value for cn-north-4/],
    ['{"cn-north-4":"nope"}', /TAURUSDB_ENDPOINTS\.cn-north-4: must be an http/],
  ])('refuses TAURUSDB_ENDPOINTS=%s naming the variable', (endpoints, message) => {
    expect(() =>
      load({
        TAURUSDB_ENDPOINT: 'https://gaussdb.{region}.example',
        TAURUSDB_ENDPOINTS: endpoints,
      }),
    ).toThrow(message);
  });

  it('refuses an http endpoint in production, the template and each region alike, unless allowed', () => {
    const https = 'https://gaussdb.{region}.example';
    const production = { NODE_ENV: 'production' };
    expect(() =>
      load({ ...production, TAURUSDB_ENDPOINT: 'http://gaussdb.{region}.example' }),
    ).toThrow(/\n {2}TAURUSDB_ENDPOINT: must be an https URL when NODE_ENV=production/);
    expect(() =>
      load({
        ...production,
        TAURUSDB_ENDPOINT: https,
        TAURUSDB_ENDPOINTS: '{"af-south-1":"http://gaussdb.af-south-1.example"}',
      }),
    ).toThrow(/\n {2}TAURUSDB_ENDPOINTS\.af-south-1: must be an https URL/);
    expect(
      load({
        ...production,
        ALLOW_HTTP_UPSTREAMS: 'true',
        TAURUSDB_ENDPOINT: 'http://sim/{region}',
      }).endpoint,
    ).toBe('http://sim/{region}');
    expect(load({ ...production, TAURUSDB_ENDPOINT: https }).endpoint).toBe(https);
  });
});
