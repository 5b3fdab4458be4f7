import { Clock } from '../clock.js';

/** The gateway clock, moved by the test; durations tick a few milliseconds per reading. */
export class ManualClock extends Clock {
  private monotonic = 0;

  constructor(public current: Date) {
    super();
  }

  override now(): Date {
    return this.current;
  }

  override nowMs(): number {
    return this.current.getTime();
  }

  override monotonicMs(): number {
    return (this.monotonic += 3);
  }

  advance(seconds: number): void {
    this.advanceMs(seconds * 1000);
  }

  advanceMs(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}
