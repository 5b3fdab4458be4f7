import type { BulkItemOutcome, BulkLockJob } from '../../domain/bulk-lock-job.js';
import type { BulkJobStore } from '../bulk-job-store.js';
import { aBulkJob, BULK_FIXTURE_NOW, fleetIds, secondsAfter } from './bulk-job-fixtures.js';

/**
 * The contract every BulkJobStore passes. A store's spec calls `bulkJobStoreContract` with a
 * harness over real storage of its kind.
 */
export interface BulkJobStoreHarness {
  /** A new, unopened store on this harness's storage; every store of one harness shares it. */
  store(): BulkJobStore;
  /** Removes the storage; the stores it handed out are closed first. */
  cleanup(): Promise<void>;
}

const SUCCEEDED: BulkItemOutcome = {
  state: 'SUCCEEDED',
  result: 'success',
  errorCode: null,
  auditId: 'audit-1',
  lockRequestId: null,
};

const claim = (holder: string, slot: number, until = secondsAfter(60)) => ({ holder, slot, until });

export function bulkJobStoreContract(name: string, newHarness: () => Promise<BulkJobStoreHarness>) {
  describe(`${name}: the bulk job store contract`, () => {
    let harness: BulkJobStoreHarness;
    let store: BulkJobStore;

    beforeEach(async () => {
      harness = await newHarness();
      store = harness.store();
      await store.open();
    });

    afterEach(() => harness.cleanup());

    async function anotherStore(): Promise<BulkJobStore> {
      const other = harness.store();
      await other.open();
      return other;
    }

    it('stores a job QUEUED with one PENDING item per instance, in the order given', async () => {
      const job = aBulkJob({ creatorGroups: ['dba', 'finance'], dryRun: true });
      const ids = fleetIds(5);

      const stored = await store.create(job, ids);

      expect(stored).toEqual({ ...job, state: 'QUEUED', total: 5, done: 0 });
      expect(await store.get(job.id)).toEqual(stored);
      const items = await store.items(job.id);
      expect(items.map((item) => [item.position, item.instanceId, item.state])).toEqual(
        ids.map((id, position) => [position, id, 'PENDING']),
      );
      expect(items[0]).toMatchObject({ result: null, holder: null, slot: null, auditId: null });
      expect(await store.get('no-such-job')).toBeNull();
    });

    it("answers the creator's earlier job for an idempotency key it used, storing nothing", async () => {
      const first = await store.create(aBulkJob({ idempotencyKey: 'k-1' }), fleetIds(3));
      const again = aBulkJob({ idempotencyKey: 'k-1', fingerprint: 'b'.repeat(64) });

      expect(await store.create(again, fleetIds(7))).toEqual(first);
      expect(await store.get(again.id)).toBeNull();
      // Another creator's key, and jobs without one, never meet.
      const bobs = await store.create(aBulkJob({ idempotencyKey: 'k-1', creatorSub: 'bob' }), []);
      expect(bobs.id).not.toBe(first.id);
      const [a, b] = [aBulkJob(), aBulkJob()];
      await store.create(a, fleetIds(1));
      expect((await store.create(b, fleetIds(1))).id).toBe(b.id);
      // Found by its creator and key alone.
      const { creatorIss } = first;
      const now = secondsAfter(60);
      expect(await store.byIdempotencyKey(creatorIss, first.creatorSub, 'k-1', now)).toEqual(first);
      expect(await store.byIdempotencyKey(creatorIss, 'bob', 'k-1', now)).toEqual(bobs);
      expect(await store.byIdempotencyKey(creatorIss, first.creatorSub, 'k-2', now)).toBeNull();
    });

    it('keeps an idempotency key 24 h: then a new job takes it over, and the old one keeps its items', async () => {
      const day = 24 * 60 * 60;
      const first = await store.create(aBulkJob({ idempotencyKey: 'k-1' }), fleetIds(2));
      const { creatorIss, creatorSub } = first;

      expect(
        await store.byIdempotencyKey(creatorIss, creatorSub, 'k-1', secondsAfter(day)),
      ).toEqual(first);
      expect(
        await store.byIdempotencyKey(creatorIss, creatorSub, 'k-1', secondsAfter(day + 1)),
      ).toBeNull();
      const sameDay = aBulkJob({ idempotencyKey: 'k-1', createdAt: secondsAfter(day) });
      expect((await store.create(sameDay, fleetIds(1))).id).toBe(first.id);

      const nextDay = aBulkJob({ idempotencyKey: 'k-1', createdAt: secondsAfter(day + 1) });
      const second = await store.create(nextDay, fleetIds(1));
      expect(second).toMatchObject({ id: nextDay.id, idempotencyKey: 'k-1', total: 1 });
      expect(
        await store.byIdempotencyKey(creatorIss, creatorSub, 'k-1', secondsAfter(day + 2)),
      ).toEqual(second);
      expect(await store.get(first.id)).toMatchObject({ idempotencyKey: null, total: 2 });
      expect(await store.items(first.id)).toHaveLength(2);
    });

    it('claims items in order, one per free slot, and the job runs from its first claim', async () => {
      const job = await store.create(aBulkJob(), fleetIds(3));

      const first = await store.claimNext(job.id, claim('r1', 0));
      expect(first).toMatchObject({ position: 0, state: 'RUNNING', holder: 'r1', slot: 0 });
      expect(await store.claimNext(job.id, claim('r2', 0))).toBeNull();
      expect(await store.claimNext(job.id, claim('r2', 1))).toMatchObject({ position: 1 });
      expect(await store.get(job.id)).toMatchObject({ state: 'RUNNING', done: 0 });

      expect(await store.finish(job.id, first!.instanceId, 'r1', SUCCEEDED)).toBe(true);
      expect(await store.claimNext(job.id, claim('r1', 0))).toMatchObject({ position: 2 });
      expect(await store.claimNext(job.id, claim('r1', 2))).toBeNull();
    });

    it('lets two stores racing for every slot run each item once, never more at once than its slots', async () => {
      const other = await anotherStore();
      const job = await store.create(aBulkJob(), fleetIds(12));
      const claimed: string[] = [];
      let running = 0;
      let mostAtOnce = 0;

      async function lane(runner: BulkJobStore, holder: string, slot: number) {
        for (;;) {
          const item = await runner.claimNext(job.id, claim(holder, slot));
          if (item === null) {
            // The slot is the other runner's for now: let it finish before trying again.
            await new Promise((resolve) => setImmediate(resolve));
            if ((await runner.items(job.id)).some((i) => i.state === 'PENDING')) continue;
            return;
          }
          running += 1;
          mostAtOnce = Math.max(mostAtOnce, running);
          claimed.push(item.instanceId);
          await new Promise((resolve) => setImmediate(resolve));
          running -= 1;
          expect(await runner.finish(job.id, item.instanceId, holder, SUCCEEDED)).toBe(true);
        }
      }
      await Promise.all(
        [0, 1, 2].flatMap((slot) => [lane(store, 'r1', slot), lane(other, 'r2', slot)]),
      );

      expect([...claimed].sort()).toEqual(fleetIds(12).sort());
      expect(mostAtOnce).toBeLessThanOrEqual(3);
      expect(await store.get(job.id)).toMatchObject({ total: 12, done: 12 });
    });

    it('ends an item only for the runner holding it, with its outcome, freeing its slot', async () => {
      const job = await store.create(aBulkJob(), fleetIds(2));
      const item = await store.claimNext(job.id, claim('r1', 0));
      const denied: BulkItemOutcome = {
        state: 'DENIED',
        result: null,
        errorCode: 'GW.POLICY_DENIED',
        auditId: 'audit-2',
        lockRequestId: null,
      };

      expect(await store.finish(job.id, item!.instanceId, 'r2', denied)).toBe(false);
      expect(await store.finish(job.id, item!.instanceId, 'r1', denied)).toBe(true);
      expect(await store.finish(job.id, item!.instanceId, 'r1', SUCCEEDED)).toBe(false);

      const [ended] = await store.items(job.id);
      expect(ended).toMatchObject({ ...denied, holder: null, claimUntil: null, slot: null });
      expect(await store.get(job.id)).toMatchObject({ done: 1 });
    });

    it('keeps the lock as read before the change on an item its holder still holds', async () => {
      const job = await store.create(aBulkJob(), fleetIds(1));
      const item = await store.claimNext(job.id, claim('r1', 0));
      const before = { enabled: true, retentionDays: 7, endsAtMs: 1_900_000_000_000 };
      expect(item?.lockBefore).toBeNull();

      expect(await store.keepLockBefore(job.id, item!.instanceId, 'r2', before)).toBe(false);
      expect(await store.keepLockBefore(job.id, item!.instanceId, 'r1', before)).toBe(true);

      expect((await store.items(job.id))[0].lockBefore).toEqual(before);
    });

    it('extends a claim only for its holder, and of an extension and a takeover exactly one wins', async () => {
      const other = await anotherStore();
      const job = await store.create(aBulkJob(), fleetIds(2));
      const item = await store.claimNext(job.id, claim('r1', 0, secondsAfter(10)));
      const id = item!.instanceId;

      expect(await store.extendClaim(job.id, id, 'r2', secondsAfter(40))).toBe(false);
      expect(await store.extendClaim(job.id, id, 'r1', secondsAfter(40))).toBe(true);
      expect(
        await other.reclaim(
          job.id,
          id,
          { holder: 'r2', until: secondsAfter(90) },
          secondsAfter(11),
          0,
        ),
      ).toBeNull();

      const raced = await Promise.all([
        store.extendClaim(job.id, id, 'r1', secondsAfter(80)),
        other.reclaim(job.id, id, { holder: 'r2', until: secondsAfter(90) }, secondsAfter(41), 0),
      ]);
      expect(raced.filter(Boolean)).toHaveLength(1);
      const [row] = await store.items(job.id);
      expect(row).toMatchObject(
        raced[0]
          ? { holder: 'r1', claimUntil: secondsAfter(80) }
          : { holder: 'r2', claimUntil: secondsAfter(90) },
      );
    });

    it('leaves an item whose change may have applied RUNNING in its slot, with its failure, until another runner takes it over after the grace', async () => {
      const job = await store.create(aBulkJob(), fleetIds(2));
      const item = await store.claimNext(job.id, claim('r1', 0, secondsAfter(60)));
      const id = item!.instanceId;
      const failure = { errorCode: 'GW.UPSTREAM_TIMEOUT', auditId: 'audit-7' };
      const before = { enabled: false, retentionDays: null, endsAtMs: null };
      expect(await store.keepLockBefore(job.id, id, 'r1', before)).toBe(true);

      expect(await store.leaveUnsettled(job.id, id, 'r2', failure, secondsAfter(5))).toBe(false);
      expect((await store.items(job.id))[0]).toMatchObject({ errorCode: null, auditId: null });
      expect(await store.leaveUnsettled(job.id, id, 'r1', failure, secondsAfter(5))).toBe(true);

      expect((await store.items(job.id))[0]).toMatchObject({
        state: 'RUNNING',
        ...failure,
        holder: 'r1',
        claimUntil: secondsAfter(5),
        slot: 0,
      });
      expect(await store.claimNext(job.id, claim('r1', 0))).toBeNull();
      const takeover = { holder: 'r2', until: secondsAfter(70) };
      // Its change may have been sent: the claim must have run out the grace (2 s) before.
      expect(await store.reclaim(job.id, id, takeover, secondsAfter(4), 2_000)).toBeNull();
      expect(await store.reclaim(job.id, id, takeover, secondsAfter(7), 2_000)).toBeNull();
      const taken = await store.reclaim(job.id, id, takeover, secondsAfter(7.001), 2_000);
      expect(taken).toMatchObject({ ...failure, lockBefore: before, holder: 'r2', slot: 0 });
      expect((await store.items(job.id))[0]).toEqual(taken);
      expect(await store.get(job.id)).toMatchObject({ done: 0 });
    });

    it('hands a RUNNING item whose claim ran out to exactly one other runner, in its slot', async () => {
      const other = await anotherStore();
      const job = await store.create(aBulkJob(), fleetIds(2));
      const item = await store.claimNext(job.id, claim('dead', 1, secondsAfter(10)));
      const id = item!.instanceId;

      const takeover = { holder: 'r1', until: secondsAfter(70) };
      expect(await store.reclaim(job.id, id, takeover, secondsAfter(5), 0)).toBeNull();
      const raced = await Promise.all([
        // Nothing was sent yet (no lock-before): the grace does not apply.
        store.reclaim(job.id, id, takeover, secondsAfter(11), 60_000),
        other.reclaim(job.id, id, { holder: 'r2', until: secondsAfter(70) }, secondsAfter(11), 0),
      ]);

      expect(raced.filter(Boolean)).toHaveLength(1);
      const winner = raced[0] ? 'r1' : 'r2';
      expect(raced.find(Boolean)).toMatchObject({ instanceId: id, holder: winner, slot: 1 });
      expect((await store.items(job.id))[0]).toMatchObject({ holder: winner, slot: 1 });
      expect(await store.finish(job.id, id, 'dead', SUCCEEDED)).toBe(false);
      expect(await store.claimNext(job.id, claim('r3', 1))).toBeNull();
    });

    it('pages through open jobs made in the same instant, each once', async () => {
      const made = [];
      for (let n = 0; n < 3; n++) {
        made.push(await store.create(aBulkJob({ createdAt: BULK_FIXTURE_NOW }), []));
      }
      const seen: string[] = [];
      let after: BulkLockJob | undefined;
      // A store that ignored `after` would answer the first page for ever: three pages at most.
      let page = await store.unfinished(2);
      for (let pages = 1; page.length > 0 && pages <= 3; pages++) {
        seen.push(...page.map((job) => job.id));
        after = page[page.length - 1];
        page = await store.unfinished(2, after);
      }
      expect(page).toEqual([]);
      expect(seen.sort()).toEqual(made.map((job) => job.id).sort());
    });

    it('finishes a job once none of its items is open, and lists only open jobs, oldest first', async () => {
      const older = await store.create(aBulkJob({ createdAt: BULK_FIXTURE_NOW }), fleetIds(1));
      const newer = await store.create(aBulkJob({ createdAt: secondsAfter(1) }), []);

      expect((await store.unfinished(10)).map((job) => job.id)).toEqual([older.id, newer.id]);
      expect((await store.unfinished(1)).map((job) => job.id)).toEqual([older.id]);
      expect((await store.unfinished(1, older)).map((job) => job.id)).toEqual([newer.id]);
      expect(await store.unfinished(1, newer)).toEqual([]);
      expect(await store.finishJob(older.id)).toBe(false);
      const item = await store.claimNext(older.id, claim('r1', 0));
      expect(await store.finishJob(older.id)).toBe(false);
      await store.finish(older.id, item!.instanceId, 'r1', SUCCEEDED);
      expect(await store.finishJob(older.id)).toBe(true);
      expect(await store.finishJob(older.id)).toBe(false);
      expect(await store.finishJob(newer.id)).toBe(true);

      expect(await store.unfinished(10)).toEqual([]);
      expect(await store.get(older.id)).toMatchObject({ state: 'FINISHED', total: 1, done: 1 });
    });

    it('keeps jobs across a reopen', async () => {
      const job = await store.create(aBulkJob(), fleetIds(2));
      await store.close();
      const reopened = await anotherStore();
      expect(await reopened.get(job.id)).toMatchObject({ id: job.id, total: 2 });
      await expect(reopened.check()).resolves.toBeUndefined();
    });
  });
}
