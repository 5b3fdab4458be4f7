import type { Clock } from './clock.js';

/**
 * A bounded map whose entries expire. A read past an entry's deadline misses and drops it; at
 * the size limit the oldest entry makes room (Maps iterate in insertion order).
 */
export class ExpiringMap<K, V> {
  private readonly entries = new Map<K, { value: V; until: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly clock: Clock,
  ) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > this.clock.nowMs()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `value` until `untilMs`, a time of the clock's `nowMs`. */
  set(key: K, value: V, untilMs: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as K);
    }
    this.entries.set(key, { value, until: untilMs });
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}
