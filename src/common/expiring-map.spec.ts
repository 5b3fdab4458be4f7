import { ExpiringMap } from './expiring-map.js';
import { ManualClock } from './testing/manual-clock.js';

const clockAt = (ms: number) => new ManualClock(new Date(ms));

describe('ExpiringMap', () => {
  it('answers an entry until its deadline, then misses', () => {
    const clock = clockAt(1_000);
    const map = new ExpiringMap<string, number>(10, clock);
    map.set('a', 1, 1_500);

    clock.current = new Date(1_499);
    expect(map.get('a')).toBe(1);
    clock.current = new Date(1_500);
    expect(map.get('a')).toBeUndefined();
  });

  it('makes room by dropping the oldest entry at its size limit', () => {
    const map = new ExpiringMap<string, number>(2, clockAt(1_000));
    map.set('a', 1, 9_999);
    map.set('b', 2, 9_999);
    map.set('c', 3, 9_999);

    expect([map.get('a'), map.get('b'), map.get('c')]).toEqual([undefined, 2, 3]);
  });

  it('counts a key set again as new, so it is not the next to go', () => {
    const map = new ExpiringMap<string, number>(2, clockAt(1_000));
    map.set('a', 1, 9_999);
    map.set('b', 2, 9_999);
    map.set('a', 10, 9_999);
    map.set('c', 3, 9_999);

    expect([map.get('a'), map.get('b'), map.get('c')]).toEqual([10, undefined, 3]);
  });
});
