import type { Clock } from './clock.js';
import { ExpiringMap } from './expiring-map.js';
import { SingleFlight } from './single-flight.js';

/**
 * Answers of a lookup kept for `ttlMs`, with concurrent lookups of one key sharing one call.
 * Only answers are kept, never failures, so a failed lookup is tried again by the next caller.
 * A `ttlMs` of 0 keeps nothing.
 */
export class CachedLookups<V> {
  private readonly entries: ExpiringMap<string, V>;
  private readonly lookups = new SingleFlight<string, V>();

  constructor(
    maxEntries: number,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {
    this.entries = new ExpiringMap(maxEntries, clock);
  }

  async get(key: string, fetch: () => Promise<V>): Promise<V> {
    if (this.ttlMs === 0) return fetch();
    const cached = this.entries.get(key);
    if (cached !== undefined) return cached;
    return this.lookups.run(key, async () => {
      const value = await fetch();
      this.entries.set(key, value, this.clock.nowMs() + this.ttlMs);
      return value;
    }).result;
  }
}
