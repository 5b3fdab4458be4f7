import { beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type {
  ClaimOutcome,
  IdempotencyClaim,
  IdempotencyStore,
  IdempotencyTimes,
  StoredAnswer,
} from '../idempotency-store.js';
import { IDEMPOTENCY_KEY_KEPT_MS } from '../../domain/idempotency.js';

/**
 * Times of production's order (a lease of seconds, answers kept a day): the contract moves each
 * store's own time rather than waiting them out.
 */
export const CONTRACT_TIMES: IdempotencyTimes = {
  leaseMs: 30_000,
  keepMs: IDEMPOTENCY_KEY_KEPT_MS,
};

/** How the contract builds a store and lets its time pass. */
export interface IdempotencyStoreHarness {
  /** A fresh, empty store with `CONTRACT_TIMES`. */
  create(): IdempotencyStore | Promise<IdempotencyStore>;
  /**
   * Lets `ms` of the store's time pass, as its expiry sees it (a clock moved, TTLs shortened), so
   * that no pause of a busy machine decides a test.
   */
  pass(ms: number): Promise<void>;
}

const SUCCESS: StoredAnswer = {
  kind: 'result',
  value: { result: 'success', auditId: 'a-1', decision: { allowed: true, reasons: [] } },
};
const REFUSAL: StoredAnswer = {
  kind: 'error',
  errorCode: 'DBS.200001',
  status: 400,
  message: 'parameter error',
  requestId: 'r-1',
  auditId: 'a-2',
};

export function claimOf(outcome: ClaimOutcome): IdempotencyClaim {
  if (outcome.kind !== 'claimed') throw new Error(`expected a claim, got ${outcome.kind}`);
  return outcome.claim;
}

/** What every IdempotencyStore must do, whatever holds the keys. */
export function describeIdempotencyStoreContract(
  name: string,
  harness: IdempotencyStoreHarness,
): void {
  const { leaseMs, keepMs } = CONTRACT_TIMES;

  describe(`${name} (IdempotencyStore contract)`, () => {
    let store: IdempotencyStore;
    let key: string;

    beforeEach(async () => {
      store = await harness.create();
      key = randomBytes(16).toString('base64url');
    });

    it('claims a free key, then says it is in progress with its fingerprint', async () => {
      expect((await store.claim(key, 'fp-1')).kind).toBe('claimed');
      expect(await store.claim(key, 'fp-1')).toEqual({ kind: 'in-progress', fingerprint: 'fp-1' });
      expect(await store.claim(key, 'fp-2')).toEqual({ kind: 'in-progress', fingerprint: 'fp-1' });
    });

    it('answers a stored result or error, with the fingerprint it was stored for', async () => {
      const other = `${key}-other`;
      await claimOf(await store.claim(key, 'fp-1')).complete(SUCCESS);
      await claimOf(await store.claim(other, 'fp-2')).complete(REFUSAL);

      expect(await store.claim(key, 'fp-1')).toEqual({
        kind: 'done',
        fingerprint: 'fp-1',
        answer: SUCCESS,
      });
      expect(await store.claim(other, 'fp-9')).toEqual({
        kind: 'done',
        fingerprint: 'fp-2',
        answer: REFUSAL,
      });
    });

    it('lets a released key be claimed again', async () => {
      await claimOf(await store.claim(key, 'fp-1')).release();
      expect((await store.claim(key, 'fp-2')).kind).toBe('claimed');
    });

    it('keeps a claim only for its lease, unless renewed', async () => {
      const renewed = `${key}-renewed`;
      claimOf(await store.claim(key, 'fp-1'));
      const held = claimOf(await store.claim(renewed, 'fp-1'));
      for (let round = 0; round < 4; round++) {
        await harness.pass(leaseMs / 3);
        await held.renew();
      }
      expect((await store.claim(key, 'fp-1')).kind).toBe('claimed');
      expect((await store.claim(renewed, 'fp-1')).kind).toBe('in-progress');
    });

    it('never lets a lapsed claim overwrite or release the claim that took its place', async () => {
      const lapsed = claimOf(await store.claim(key, 'fp-1'));
      await harness.pass(leaseMs + 50);
      const successor = claimOf(await store.claim(key, 'fp-2'));

      await lapsed.complete(SUCCESS);
      await lapsed.release();
      expect(await store.claim(key, 'fp-2')).toEqual({ kind: 'in-progress', fingerprint: 'fp-2' });

      await successor.complete(REFUSAL);
      expect(await store.claim(key, 'fp-2')).toMatchObject({ kind: 'done', answer: REFUSAL });
    });

    it('keeps an answer for its keeping time, then forgets it', async () => {
      await claimOf(await store.claim(key, 'fp-1')).complete(SUCCESS);
      // Redis counts the last part in real time: it is left long enough for any stall.
      await harness.pass(keepMs - 10_000);
      expect((await store.claim(key, 'fp-1')).kind).toBe('done');
      await harness.pass(10_000);
      expect((await store.claim(key, 'fp-1')).kind).toBe('claimed');
    });

    it('gives a key to exactly one of many concurrent claims', async () => {
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () => store.claim(key, 'fp-1')),
      );
      expect(outcomes.filter((outcome) => outcome.kind === 'claimed')).toHaveLength(1);
    });
  });
}
