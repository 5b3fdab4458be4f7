/**
 * Concurrent callers asking for the same key share one in-flight task; the entry goes away as
 * soon as the task settles, so the next caller after that starts a new one.
 */
export class SingleFlight<K, V> {
  readonly #inflight = new Map<K, Promise<V>>();

  /** `shared` says whether the caller joined a task that was already running. */
  run(key: K, task: () => Promise<V>): { result: Promise<V>; shared: boolean } {
    const running = this.#inflight.get(key);
    if (running) {
      return { result: running, shared: true };
    }
    const result = task().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, result);
    return { result, shared: false };
  }
}
