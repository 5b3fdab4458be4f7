import { beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { IamTokenCache } from '../iam-token-cache.js';
import { IamToken } from '../iam-token.js';

const HOUR_MS = 3_600_000;
export const CONTRACT_PROJECT = '1b2c3d4e5f60718293a4b5c6d7e8f90a';

/** A token shaped like IAM's (they start with MII), with a fresh secret each time. */
export function sampleToken(lifetimeMs = 24 * HOUR_MS, projectId = CONTRACT_PROJECT): IamToken {
  const now = Date.now();
  return new IamToken(
    `MII${randomBytes(96).toString('base64')}`,
    projectId,
    'ap-southeast-1_finance',
    new Date(now),
    new Date(now + lifetimeMs),
  );
}

export function expectSameToken(actual: IamToken | undefined, expected: IamToken): void {
  expect(actual).toBeDefined();
  expect(actual!.sameAs(expected)).toBe(true);
  expect(actual!.toJSON()).toEqual(expected.toJSON());
}

/**
 * What every IamTokenCache must do, whatever holds the tokens. `create` gives a fresh, empty
 * cache for each test.
 */
export function describeIamTokenCacheContract(
  name: string,
  create: () => IamTokenCache | Promise<IamTokenCache>,
): void {
  describe(`${name} (IamTokenCache contract)`, () => {
    let cache: IamTokenCache;
    const key = `oidc|https://idp.example#alice|${CONTRACT_PROJECT}`;

    beforeEach(async () => {
      cache = await create();
    });

    it('answers the token stored under a key, secret and times included', async () => {
      const token = sampleToken();
      await cache.set(key, token);
      expectSameToken(await cache.get(key), token);
    });

    it('misses a key that holds nothing, and keeps keys apart', async () => {
      await cache.set(key, sampleToken());
      expect(await cache.get(`${key}x`)).toBeUndefined();
      expect(await cache.get(`oidc|https://idp.example#bob|${CONTRACT_PROJECT}`)).toBeUndefined();
    });

    it('never answers a token past its expiry', async () => {
      await cache.set(key, sampleToken(-1_000));
      expect(await cache.get(key)).toBeUndefined();
    });

    it('replaces the token under a key', async () => {
      const [first, second] = [sampleToken(), sampleToken()];
      await cache.set(key, first);
      await cache.set(key, second);
      expectSameToken(await cache.get(key), second);
    });

    it('deletes a key, and with ifValue only while it holds that same token', async () => {
      const [first, second] = [sampleToken(), sampleToken()];
      await cache.set(key, second);
      await cache.delete(key, first);
      expectSameToken(await cache.get(key), second);
      await cache.delete(key, second);
      expect(await cache.get(key)).toBeUndefined();
      await cache.set(key, first);
      await cache.delete(key);
      expect(await cache.get(key)).toBeUndefined();
    });

    it('fill stores and answers the exchanged token', async () => {
      const token = sampleToken();
      const filled = await cache.fill(key, async () => token);
      expectSameToken(filled, token);
      expectSameToken(await cache.get(key), token);
    });

    it('fill passes an exchange failure on and stores nothing', async () => {
      const failure = new Error('IAM refused');
      await expect(cache.fill(key, () => Promise.reject(failure))).rejects.toBe(failure);
      expect(await cache.get(key)).toBeUndefined();
    });
  });
}
