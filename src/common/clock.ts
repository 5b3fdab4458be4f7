import { Injectable } from '@nestjs/common';

/** Time behind one injectable so token expiry, audit times and durations can be reasoned about. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }

  nowMs(): number {
    return Date.now();
  }

  /** Monotonic milliseconds, for durations. */
  monotonicMs(): number {
    return performance.now();
  }
}
