/**
 * Sets `key` to `value` in `map`, which never holds more than `max` entries: at the limit its
 * oldest entry makes room (a Map iterates in insertion order, and a key set again moves last).
 */
export function setOldestOut<K, V>(map: Map<K, V>, max: number, key: K, value: V): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
