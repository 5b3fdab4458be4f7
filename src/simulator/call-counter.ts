import { ROUTE_NAMES, type RouteName } from './route-names.js';

/** Requests that reached each route, whatever they were answered (faults and refusals count). */
export class CallCounter {
  readonly #counts = new Map<RouteName, number>();

  count(route: RouteName): void {
    this.#counts.set(route, (this.#counts.get(route) ?? 0) + 1);
  }

  /** Every route, zero included, so a test can compare before and after without guarding. */
  snapshot(): Record<RouteName, number> {
    return Object.fromEntries(
      ROUTE_NAMES.map((route) => [route, this.#counts.get(route) ?? 0]),
    ) as Record<RouteName, number>;
  }

  reset(): void {
    this.#counts.clear();
  }
}
