import { Clock } from '../common/clock.js';
import { InMemoryIdempotencyStore } from './idempotency-store.js';
import {
  CONTRACT_TIMES,
  describeIdempotencyStoreContract,
} from './testing/idempotency-store.contract.js';

describeIdempotencyStoreContract(
  'InMemoryIdempotencyStore',
  () => new InMemoryIdempotencyStore(CONTRACT_TIMES, new Clock()),
);
