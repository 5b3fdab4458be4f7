import { afterEach, describe, expect, it } from '@jest/globals';
import { redisConfig } from './redis.config.js';

const VARIABLES = ['REDIS_URL', 'REDIS_KEY_PREFIX', 'REDIS_COMMAND_TIMEOUT_MS'];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));

function withEnv(values: Record<string, string>) {
  for (const name of VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
  return redisConfig();
}

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}

describe('redisConfig', () => {
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('keeps everything in memory when REDIS_URL is unset', () => {
    expect(withEnv({})).toEqual({ url: undefined, keyPrefix: 'vlg:', commandTimeoutMs: 500 });
  });

  it('takes redis:// and rediss:// URLs, a password included, and a key prefix', () => {
    expect(withEnv({ REDIS_URL: 'redis://127.0.0.1:6379' }).url).toBe('redis://127.0.0.1:6379');
    expect(
      withEnv({ REDIS_URL: 'rediss://:s3cret@cache.internal:6380/2', REDIS_KEY_PREFIX: 'gw1:' }),
    ).toEqual({
      url: 'rediss://:s3cret@cache.internal:6380/2',
      keyPrefix: 'gw1:',
      commandTimeoutMs: 500,
    });
  });

  it('names a wrong REDIS_URL without repeating it', () => {
    const message = messageOf(() => withEnv({ REDIS_URL: 'http://:s3cret@cache.internal' }));
    expect(message).toContain('REDIS_URL: must be a redis:// or rediss:// URL');
    expect(message).not.toContain('s3cret');
  });

  it('takes a command timeout from 50 ms to a minute, and names one outside it', () => {
    expect(withEnv({ REDIS_COMMAND_TIMEOUT_MS: '2000' }).commandTimeoutMs).toBe(2000);
    for (const wrong of ['49', '60001', '1.5', 'soon']) {
      expect(messageOf(() => withEnv({ REDIS_COMMAND_TIMEOUT_MS: wrong }))).toContain(
        'REDIS_COMMAND_TIMEOUT_MS',
      );
    }
  });

  it('refuses a key prefix with spaces or wildcards', () => {
    expect(messageOf(() => withEnv({ REDIS_KEY_PREFIX: 'a b*' }))).toContain('REDIS_KEY_PREFIX');
  });
});
