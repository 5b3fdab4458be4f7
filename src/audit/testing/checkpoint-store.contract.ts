import { generateKeyPairSync } from 'node:crypto';
import { GENESIS_HASH } from '../audit-chain.js';
import { checkpointDigest, nextCheckpoint } from '../audit-checkpoint.js';
import type { AuditTrail } from '../audit-trail.js';
import type { CheckpointStore, StoredCheckpoint } from '../checkpoint-store.js';
import { anAttempt } from './audit-fixtures.js';

/** Real storage of one kind for the contract every CheckpointStore passes. */
export interface CheckpointStoreHarness {
  /** The audit trail on this storage, open: it seals the rows checkpoints sign. */
  trail(): Promise<AuditTrail>;
  /** A new, unopened checkpoint store on this storage. */
  store(): CheckpointStore;
  /** SQL with the rights the gateway itself has. */
  asGateway(sql: string): Promise<void>;
  /** Closes what it handed out and removes the storage. */
  cleanup(): Promise<void>;
}

const { privateKey } = generateKeyPairSync('ed25519');
const TIME = '2026-11-30T03:00:00.000Z';

const signNext = (store: CheckpointStore) =>
  store.append((head, previous) => nextCheckpoint(head, previous, TIME, privateKey));

const sealRows = async (trail: AuditTrail, count: number) => {
  for (let n = 0; n < count; n += 1) {
    await trail.recordSealed(anAttempt(), { outcome: 'succeeded', durationMs: 1 });
  }
};

export function checkpointStoreContract(
  name: string,
  makeHarness: () => Promise<CheckpointStoreHarness>,
): void {
  describe(`${name} (CheckpointStore contract)`, () => {
    let harness: CheckpointStoreHarness;
    let trail: AuditTrail;
    let store: CheckpointStore;

    beforeEach(async () => {
      harness = await makeHarness();
      trail = await harness.trail();
      store = harness.store();
      await store.open('readwrite');
    });
    afterEach(() => harness.cleanup());

    it('signs the chain head, chained to the newest checkpoint, even when no row was added', async () => {
      const empty = await signNext(store);
      await sealRows(trail, 3);
      const three = await signNext(store);
      const again = await signNext(store);
      const head = (await store.chainHashes([3])).hashes.get(3);

      expect([empty.position, empty.seq, empty.hash, empty.prevCheckpoint]).toEqual([
        1,
        0,
        GENESIS_HASH,
        null,
      ]);
      expect([three.position, three.seq, three.hash, three.rows]).toEqual([2, 3, head, 3]);
      expect(three.prevCheckpoint).toBe(checkpointDigest(empty));
      expect([again.position, again.seq, again.rows]).toEqual([3, 3, 0]);
      expect(again.prevCheckpoint).toBe(checkpointDigest(three));
    });

    it('lists newest first, page by page, and hands every one back oldest first', async () => {
      const written: StoredCheckpoint[] = [];
      for (let n = 0; n < 5; n += 1) written.push(await signNext(store));

      const first = await store.list(2);
      const second = await store.list(2, first.checkpoints[1].position);
      const last = await store.list(2, second.checkpoints[1].position);

      expect(first.checkpoints.map((c) => c.position)).toEqual([5, 4]);
      expect([first.more, second.more, last.more]).toEqual([true, true, false]);
      expect(last.checkpoints.map((c) => c.position)).toEqual([1]);
      expect(await store.all()).toEqual(written);
    });

    it('reads the head and the hashes at the asked seqs, leaving out seqs past the end', async () => {
      await sealRows(trail, 4);
      const { head, hashes } = await store.chainHashes([2, 4, 9]);
      const { events } = await trail.list({}, 10);

      expect(head).toEqual({ seq: 4, hash: events[0].hash });
      expect([...hashes.keys()].sort()).toEqual([2, 4]);
      expect(hashes.get(2)).toBe(events.find((e) => e.seq === 2)?.hash);
    });

    it('lets two stores racing on one trail extend one chain of checkpoints, never fork it', async () => {
      const other = harness.store();
      await other.open('readwrite');
      await Promise.all(
        Array.from({ length: 6 }, (_, n) => [
          signNext(n % 2 === 0 ? store : other),
          trail.recordSealed(anAttempt(), { outcome: 'succeeded', durationMs: 1 }),
        ]).flat(),
      );

      const all = await store.all();
      expect(all.map((c) => c.position)).toEqual([1, 2, 3, 4, 5, 6]);
      all.slice(1).forEach((c, n) => expect(c.prevCheckpoint).toBe(checkpointDigest(all[n])));
    });

    it('stores nothing that does not extend the newest checkpoint', async () => {
      const first = await signNext(store);
      await signNext(store);

      await expect(
        store.append((head) => nextCheckpoint(head, first, TIME, privateKey)),
      ).rejects.toThrow('the checkpoint does not name the newest stored one as prevCheckpoint');
      expect((await store.all()).length).toBe(2);
    });

    it('does not let a checkpoint be changed or deleted with the gateway rights', async () => {
      await signNext(store);

      await expect(
        harness.asGateway("UPDATE audit_checkpoints SET key_id = 'mallory'"),
      ).rejects.toThrow(/cannot be changed|permission denied/);
      await expect(harness.asGateway('DELETE FROM audit_checkpoints')).rejects.toThrow(
        /cannot be (changed or )?deleted|permission denied/,
      );
      expect((await store.all()).length).toBe(1);
    });
  });
}
