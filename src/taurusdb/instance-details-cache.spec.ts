import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../common/testing/manual-clock.js';
import { INSTANCES } from '../simulator/fixtures.js';
import { InstanceDetailsCache } from './instance-details-cache.js';
import type { TaurusDbConfig } from './taurusdb.config.js';
import type { InstanceDetails } from './taurusdb.types.js';

const details: InstanceDetails = {
  ...INSTANCES.financeProd,
  tags: [...INSTANCES.financeProd.tags],
};

function cacheFor(instanceCacheMs: number, clock = new ManualClock(new Date(1_000_000))) {
  const cache = new InstanceDetailsCache({ instanceCacheMs } as TaurusDbConfig, clock);
  let fetches = 0;
  const fetch = async () => {
    fetches += 1;
    return details;
  };
  return { cache, clock, fetch, fetches: () => fetches };
}

describe('InstanceDetailsCache', () => {
  it('shares one lookup among concurrent callers and reuses it until it expires', async () => {
    const { cache, clock, fetch, fetches } = cacheFor(2000);
    await Promise.all(Array.from({ length: 20 }, () => cache.get('k', fetch)));
    expect(fetches()).toBe(1);
    clock.advanceMs(1999);
    await cache.get('k', fetch);
    expect(fetches()).toBe(1);
    clock.advanceMs(1);
    await cache.get('k', fetch);
    expect(fetches()).toBe(2);
  });

  it('keeps keys apart and never keeps a failure', async () => {
    const { cache, fetch, fetches } = cacheFor(2000);
    await cache.get('a', fetch);
    await cache.get('b', fetch);
    expect(fetches()).toBe(2);
    await expect(cache.get('c', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await cache.get('c', fetch);
    expect(fetches()).toBe(3);
  });

  it('fetches every time when set to 0', async () => {
    const { cache, fetch, fetches } = cacheFor(0);
    await cache.get('k', fetch);
    await cache.get('k', fetch);
    expect(fetches()).toBe(2);
  });
});
