import { mapBounded } from './bounded-map.js';

describe('mapBounded', () => {
  it('answers in the order of the items with never more than the limit running', async () => {
    let running = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    const answers = mapBounded([1, 2, 3, 4, 5], 2, async (item) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running -= 1;
      return item * 10;
    });
    // Release in reverse order of arrival, each time the pool has started what it can.
    while (releases.length > 0 || running > 0) {
      await new Promise((resolve) => setImmediate(resolve));
      releases.pop()?.();
    }
    await expect(answers).resolves.toEqual([10, 20, 30, 40, 50]);
    expect(peak).toBe(2);
  });

  it('answers an empty list without running anything', async () => {
    await expect(mapBounded([], 4, () => Promise.reject(new Error('ran')))).resolves.toEqual([]);
  });
});
