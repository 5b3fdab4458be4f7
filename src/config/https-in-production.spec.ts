import 'reflect-metadata';
import { requireHttpsInProduction } from './https-in-production.js';

describe('requireHttpsInProduction', () => {
  const saved = { NODE_ENV: process.env.NODE_ENV, ALLOW: process.env.ALLOW_HTTP_UPSTREAMS };

  afterEach(() => {
    for (const [name, value] of [
      ['NODE_ENV', saved.NODE_ENV],
      ['ALLOW_HTTP_UPSTREAMS', saved.ALLOW],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  const check = (env: { NODE_ENV?: string; ALLOW_HTTP_UPSTREAMS?: string }, url: string) => {
    delete process.env.NODE_ENV;
    delete process.env.ALLOW_HTTP_UPSTREAMS;
    Object.assign(process.env, env);
    return () => requireHttpsInProduction('IAM_ENDPOINT', url);
  };

  it('refuses http in production, naming the variable and the way out', () => {
    expect(check({ NODE_ENV: 'production' }, 'http://iam.example.test')).toThrow(
      'Invalid configuration:\n  IAM_ENDPOINT: must be an https URL when NODE_ENV=production' +
        ' (ALLOW_HTTP_UPSTREAMS=true allows http where the network to it is trusted end to end)',
    );
    expect(
      check({ NODE_ENV: 'production', ALLOW_HTTP_UPSTREAMS: 'false' }, 'http://iam.example.test'),
    ).toThrow(/IAM_ENDPOINT: must be an https URL/);
  });

  it('accepts https in production, and http outside it or where it is allowed', () => {
    expect(check({ NODE_ENV: 'production' }, 'HTTPS://iam.example.test')).not.toThrow();
    expect(check({ NODE_ENV: 'development' }, 'http://iam.example.test')).not.toThrow();
    expect(check({}, 'http://iam.example.test')).not.toThrow();
    expect(
      check({ NODE_ENV: 'production', ALLOW_HTTP_UPSTREAMS: 'true' }, 'http://iam.example.test'),
    ).not.toThrow();
  });

  it('refuses an allowance that is neither true nor false', () => {
    expect(check({ ALLOW_HTTP_UPSTREAMS: 'yes' }, 'https://iam.example.test')).toThrow(
      /ALLOW_HTTP_UPSTREAMS must be one of the following values: true, false/,
    );
  });
});
