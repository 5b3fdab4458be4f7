import type { RouteName } from './route-names.js';

/** The most recent calls kept; older ones are dropped as new ones come. */
const KEPT_CALLS = 200;

export interface ReceivedTraceContext {
  route: RouteName;
  /** The W3C `traceparent` header the call carried, or null without one. */
  traceparent: string | null;
  /** The W3C `baggage` header the call carried, or null without one. */
  baggage: string | null;
}

/** The trace context each recent call arrived with, oldest first, so a test can follow a trace. */
export class TraceContextLog {
  #received: ReceivedTraceContext[] = [];

  record(
    route: RouteName,
    traceparent: string | string[] | undefined,
    baggage: string | string[] | undefined,
  ): void {
    this.#received.push({
      route,
      traceparent: typeof traceparent === 'string' ? traceparent : null,
      baggage: typeof baggage === 'string' ? baggage : null,
    });
    if (this.#received.length > KEPT_CALLS) this.#received.shift();
  }

  snapshot(): ReceivedTraceContext[] {
    return [...this.#received];
  }

  reset(): void {
    this.#received = [];
  }
}
