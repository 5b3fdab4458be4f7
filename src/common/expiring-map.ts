import type { Clock } from './clock.js';
import { setOldestOut } from './oldest-out.js';

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
    setOldestOut(this.entries, this.maxEntries, key, { value, until: untilMs });
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}
