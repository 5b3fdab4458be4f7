import type { Clock } from '../common/clock.js';

/**
 * The time budget of one upstream call, shared by all its attempts and the waits between them,
 * so retries never stretch a call past `UPSTREAM_TIMEOUT_MS`.
 */
export class CallDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly endsAtMs: number;

  constructor(
    private readonly clock: Clock,
    budgetMs: number,
  ) {
    this.endsAtMs = clock.monotonicMs() + budgetMs;
    this.timer = setTimeout(() => this.controller.abort(), budgetMs);
  }

  /** Aborted when the budget is spent; aborts the request in flight. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remainingMs(): number {
    return this.endsAtMs - this.clock.monotonicMs();
  }

  /** Call once the call has settled, so no timer outlives it. */
  clear(): void {
    clearTimeout(this.timer);
  }
}
