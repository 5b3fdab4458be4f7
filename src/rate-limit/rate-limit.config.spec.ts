import { afterEach, describe, expect, it } from '@jest/globals';
import { rateLimitConfig } from './rate-limit.config.js';

const VARIABLES = ['RATE_LIMIT_MUTATIONS_PER_MINUTE', 'RATE_LIMIT_READS_PER_MINUTE'];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));

function withEnv(values: Record<string, string>) {
  for (const name of VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
  return rateLimitConfig();
}

describe('rateLimitConfig', () => {
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('allows 30 mutations and 600 reads per minute by default', () => {
    expect(withEnv({})).toEqual({ mutationsPerMinute: 30, readsPerMinute: 600 });
  });

  it('reads both limits and refuses one that is not a positive integer, naming it', () => {
    expect(
      withEnv({ RATE_LIMIT_MUTATIONS_PER_MINUTE: '5', RATE_LIMIT_READS_PER_MINUTE: '50' }),
    ).toEqual({ mutationsPerMinute: 5, readsPerMinute: 50 });
    expect(() => withEnv({ RATE_LIMIT_MUTATIONS_PER_MINUTE: '0' })).toThrow(
      'RATE_LIMIT_MUTATIONS_PER_MINUTE',
    );
    expect(() => withEnv({ RATE_LIMIT_READS_PER_MINUTE: 'many' })).toThrow(
      'RATE_LIMIT_READS_PER_MINUTE',
    );
  });
});
