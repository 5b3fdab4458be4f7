import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { TokenCacheKey } from './token-cache.config.js';
import { TokenCipher } from './token-cipher.js';

const newCipher = () => new TokenCipher(new TokenCacheKey(randomBytes(32)));
const KEY = 'oidc|https://idp.example#alice|1b2c3d4e5f60718293a4b5c6d7e8f90a';
const SECRET = `MII${randomBytes(64).toString('base64')}`;

/** Flips one bit of the decoded entry at `index` (counted from the end when negative). */
function flipBit(sealed: string, index: number): string {
  const [format, encoded] = sealed.split('.');
  const bytes = Buffer.from(encoded, 'base64');
  bytes[index < 0 ? bytes.length + index : index] ^= 1;
  return `${format}.${bytes.toString('base64')}`;
}

describe('TokenCipher', () => {
  const cipher = newCipher();

  it('opens what it sealed, and seals the same text differently each time', () => {
    const sealed = cipher.seal(KEY, SECRET);
    expect(cipher.open(KEY, sealed)).toBe(SECRET);
    expect(cipher.seal(KEY, SECRET)).not.toBe(sealed);
    expect(sealed).not.toContain(SECRET.slice(3, 20));
  });

  it('refuses an altered entry: ciphertext, IV, tag or format', () => {
    const sealed = cipher.seal(KEY, SECRET);
    for (const altered of [
      flipBit(sealed, 20),
      flipBit(sealed, 0),
      flipBit(sealed, -1),
      sealed.replace(/^v1\./, 'v2.'),
      'v1.AAAA',
      'not sealed at all',
    ]) {
      expect(cipher.open(KEY, altered)).toBeUndefined();
    }
  });

  it('refuses an entry moved under another cache key', () => {
    const sealed = cipher.seal(KEY, SECRET);
    expect(cipher.open(KEY.replace('alice', 'mallory'), sealed)).toBeUndefined();
  });

  it('refuses an entry sealed under another TOKEN_CACHE_KEY', () => {
    expect(newCipher().open(KEY, cipher.seal(KEY, SECRET))).toBeUndefined();
  });

  it('names a cache key by a keyed hash that does not show the key', () => {
    const name = cipher.nameFor(KEY);
    expect(cipher.nameFor(KEY)).toBe(name);
    expect(cipher.nameFor(`${KEY}x`)).not.toBe(name);
    expect(newCipher().nameFor(KEY)).not.toBe(name);
    expect(name).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('keeps its key out of anything printed', () => {
    const bytes = randomBytes(32);
    const key = new TokenCacheKey(bytes);
    expect(JSON.stringify({ key })).not.toContain(bytes.toString('base64'));
    expect(() => new TokenCacheKey(randomBytes(16))).toThrow('32 bytes');
  });
});
