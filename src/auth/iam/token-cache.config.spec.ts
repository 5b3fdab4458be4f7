import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { tokenCacheConfig } from './token-cache.config.js';

const VARIABLES = ['REDIS_URL', 'TOKEN_CACHE_KEY'];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));

function withEnv(values: Record<string, string>) {
  for (const name of VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
  return tokenCacheConfig();
}

describe('tokenCacheConfig', () => {
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('needs no key without REDIS_URL', () => {
    expect(withEnv({}).key).toBeUndefined();
  });

  it('requires TOKEN_CACHE_KEY whenever REDIS_URL is set, naming the variable', () => {
    expect(() => withEnv({ REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(
      'TOKEN_CACHE_KEY: is required when REDIS_URL is set',
    );
  });

  it('refuses a key that is not 32 bytes of base64, without repeating it', () => {
    const short = randomBytes(16).toString('base64');
    for (const bad of [short, 'x'.repeat(44), `${randomBytes(32).toString('base64url')}`]) {
      let message = '';
      try {
        withEnv({ REDIS_URL: 'redis://127.0.0.1:6379', TOKEN_CACHE_KEY: bad });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain(
        'TOKEN_CACHE_KEY: is required when REDIS_URL is set: 32 bytes in base64',
      );
      expect(message).not.toContain(bad);
    }
  });

  it('reads a 32-byte key', () => {
    const bytes = randomBytes(32);
    const config = withEnv({
      REDIS_URL: 'redis://127.0.0.1:6379',
      TOKEN_CACHE_KEY: bytes.toString('base64'),
    });
    expect(config.key?.bytes().equals(bytes)).toBe(true);
  });
});
