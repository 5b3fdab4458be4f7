import { afterEach, describe, expect, it } from '@jest/globals';
import { fleetConfig } from './fleet.config.js';

describe('fleetConfig', () => {
  const names = ['FLEET_CONCURRENCY', 'FLEET_LOCK_CACHE_MS'] as const;
  const saved = names.map((name) => process.env[name]);

  afterEach(() => {
    names.forEach((name, i) => {
      if (saved[i] === undefined) delete process.env[name];
      else process.env[name] = saved[i];
    });
  });

  it('reads 8 locks at a time and keeps them 5 s unless told otherwise', () => {
    names.forEach((name) => delete process.env[name]);
    expect(fleetConfig()).toEqual({ concurrency: 8, lockCacheMs: 5000 });
  });

  it('takes both, a cache of 0 included', () => {
    process.env.FLEET_CONCURRENCY = '16';
    process.env.FLEET_LOCK_CACHE_MS = '0';
    expect(fleetConfig()).toEqual({ concurrency: 16, lockCacheMs: 0 });
  });

  it.each([
    ['FLEET_CONCURRENCY', '0'],
    ['FLEET_CONCURRENCY', '65'],
    ['FLEET_LOCK_CACHE_MS', '-1'],
    ['FLEET_LOCK_CACHE_MS', '60001'],
    ['FLEET_LOCK_CACHE_MS', 'soon'],
  ])('refuses %s=%j, naming it', (name, value) => {
    names.forEach((other) => delete process.env[other]);
    process.env[name] = value;
    expect(() => fleetConfig()).toThrow(new RegExp(`Invalid configuration:\\n  ${name}: `));
  });
});
