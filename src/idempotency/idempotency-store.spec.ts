import { ManualClock } from '../common/testing/manual-clock.js';
import { InMemoryIdempotencyStore } from './idempotency-store.js';
import { describeIdempotencyStoreContract } from './testing/idempotency-store.contract.js';

let clock = new ManualClock(new Date());
const times = { leaseMs: 30_000, keepMs: 24 * 3_600_000 };

describeIdempotencyStoreContract('InMemoryIdempotencyStore', {
  times,
  create: () => {
    clock = new ManualClock(new Date());
    return new InMemoryIdempotencyStore(times, clock);
  },
  pass: async (ms) => clock.advanceMs(ms),
});
