import { ManualClock } from '../common/testing/manual-clock.js';
import { InMemoryIdempotencyStore } from './idempotency-store.js';
import {
  CONTRACT_TIMES,
  describeIdempotencyStoreContract,
} from './testing/idempotency-store.contract.js';

let clock: ManualClock;

describeIdempotencyStoreContract('InMemoryIdempotencyStore', {
  create: () => {
    clock = new ManualClock(new Date());
    return new InMemoryIdempotencyStore(CONTRACT_TIMES, clock);
  },
  pass: async (ms) => clock.advanceMs(ms),
});
