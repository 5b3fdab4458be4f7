import { ENDED_LOCK_REQUEST_STATES, type LockRequest } from '../../domain/lock-request.js';
import { INSTANCES } from '../../simulator/fixtures.js';
import type { LockRequestStore } from '../lock-request-store.js';
import { aLockRequest, FIXTURE_NOW, secondsFromNow } from './lock-request-fixtures.js';

/**
 * The contract every LockRequestStore passes. A store's spec calls `lockRequestStoreContract`
 * with a harness over real storage of its kind.
 */
export interface LockRequestStoreHarness {
  /** A new, unopened store on this harness's storage; every store of one harness shares it. */
  store(): LockRequestStore;
  /** Removes the storage; the stores it handed out are closed first. */
  cleanup(): Promise<void>;
}

const bob = { iss: 'https://idp.example.test', sub: 'bob' };

/** `request` moved on by one write, as the service makes every transition. */
function next(request: LockRequest, changes: Partial<LockRequest>): LockRequest {
  return { ...request, ...changes, version: request.version + 1 };
}

const ids = (requests: readonly LockRequest[]): string[] => requests.map((r) => r.id);

/** The error a rejected promise carries; fails when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).not.toBeNull();
  return error as Error;
}

export function lockRequestStoreContract(
  name: string,
  newHarness: () => Promise<LockRequestStoreHarness>,
) {
  describe(`${name}: the lock request store contract`, () => {
    let harness: LockRequestStoreHarness;
    let store: LockRequestStore;

    beforeEach(async () => {
      harness = await newHarness();
      store = harness.store();
      await store.open();
    });

    afterEach(() => harness.cleanup());

    async function inserted(...requests: LockRequest[]): Promise<LockRequest[]> {
      for (const request of requests) await store.insert(request);
      return requests;
    }

    async function anotherStore(): Promise<LockRequestStore> {
      const other = harness.store();
      await other.open();
      return other;
    }

    it('reads back every field of a request waiting for approvals, its nulls included', async () => {
      const request = aLockRequest({
        approverGroups: ['dba-leads', 'security'],
        approvals: [
          {
            approverIss: bob.iss,
            approverSub: bob.sub,
            decision: 'approve',
            comment: 'checked the ticket',
            at: secondsFromNow(60),
          },
          {
            approverIss: bob.iss,
            approverSub: 'carol',
            decision: 'approve',
            comment: null,
            at: secondsFromNow(120),
          },
        ],
      });
      await store.insert(request);

      expect(await store.get(request.id)).toEqual(request);
      expect(await store.get(aLockRequest().id)).toBeNull();
    });

    it('reads back every field of a request being executed, none of them null', async () => {
      const request = aLockRequest({
        state: 'EXECUTING',
        action: 'extend',
        retentionDays: 3650,
        approvalsRequired: 0,
        approverGroups: [],
        coolingOffSeconds: 0,
        lockAtRequest: { enabled: true, retentionDays: 30, endsAtMs: 4_102_444_800_123 },
        notBefore: secondsFromNow(-10),
        expiresAt: secondsFromNow(3_590),
        updatedAt: secondsFromNow(1),
        reason: 'cooling-off over',
        executor: 'replica-a',
        claimUntil: secondsFromNow(31),
        executionAuditId: '01936f3e-7c2a-7b1e-9a4d-3c2b1a0f9e8d',
        nextReadingAt: secondsFromNow(600),
        version: 7,
      });
      await store.insert(request);

      expect(await store.get(request.id)).toEqual(request);
    });

    it('keeps quotes, backslashes and unicode as written, and matches on them', async () => {
      const odd = `o'brien "the dba" \\ 🔒 审批 ; DROP TABLE lock_requests; --`;
      const request = aLockRequest({
        requesterSub: odd,
        requesterGroups: [odd, ''],
        approverGroups: [odd, 'dba-leads'],
        reason: odd,
        approvals: [
          {
            approverIss: odd,
            approverSub: odd,
            decision: 'deny',
            comment: `${odd}\nsecond line`,
            at: FIXTURE_NOW,
          },
        ],
      });
      await store.insert(request);

      expect(await store.get(request.id)).toEqual(request);
      const mine = await store.list({ requester: { iss: request.requesterIss, sub: odd } }, 10);
      expect(ids(mine.requests)).toEqual([request.id]);
      const awaiting = await store.list({ awaitingApprovalBy: { ...bob, groups: [odd] } }, 10);
      expect(ids(awaiting.requests)).toEqual([request.id]);
      const decided = await store.list(
        { awaitingApprovalBy: { iss: odd, sub: odd, groups: [odd] } },
        10,
      );
      expect(decided.requests).toEqual([]);
    });

    it('refuses a second request with the same id, and keeps the first', async () => {
      const [first] = await inserted(aLockRequest());

      await rejection(store.insert({ ...first, reason: 'second' }));
      expect(await store.get(first.id)).toEqual(first);
    });

    it('refuses values its table does not allow, and writes nothing', async () => {
      const refused: Partial<LockRequest>[] = [
        { state: 'PAUSED' as LockRequest['state'] },
        { action: 'show' as LockRequest['action'] },
        { retentionDays: 0 },
        { fingerprint: 'not a sha-256' },
        // Deadlines compare as text: only the gateway clock's shape keeps text order time order.
        { expiresAt: '2026-11-30T03:00:00Z' },
        { createdAt: '2026-11-30 02:00:00.000+00' },
        { state: 'SCHEDULED', notBefore: null },
        { state: 'EXECUTING', executor: null, claimUntil: secondsFromNow(30) },
        { version: 0 },
      ];
      for (const changes of refused) {
        const request = aLockRequest(changes);
        await rejection(store.insert(request));
        expect(await store.get(request.id)).toBeNull();
      }
    });

    describe('update, a compare-and-set on version', () => {
      it('writes the next version over the expected one', async () => {
        const [request] = await inserted(aLockRequest());
        const approved = next(request, {
          state: 'SCHEDULED',
          approvals: [
            {
              approverIss: bob.iss,
              approverSub: bob.sub,
              decision: 'approve',
              comment: null,
              at: FIXTURE_NOW,
            },
          ],
          notBefore: secondsFromNow(259_200),
          expiresAt: secondsFromNow(262_800),
          updatedAt: secondsFromNow(5),
        });

        expect(await store.update(approved, 1)).toBe(true);
        expect(await store.get(request.id)).toEqual(approved);
      });

      it('moves when an uncertain request is read next, and clears it as the request settles', async () => {
        const [request] = await inserted(aLockRequest({ state: 'UNKNOWN' }));
        const noted = next(request, {
          reason: 'the lock holds 60 days',
          nextReadingAt: secondsFromNow(600),
          updatedAt: secondsFromNow(1),
        });
        expect(await store.update(noted, 1)).toBe(true);
        expect(await store.get(request.id)).toEqual(noted);

        const settled = next(noted, { state: 'SUCCEEDED', nextReadingAt: null });
        expect(await store.update(settled, 2)).toBe(true);
        expect(await store.get(request.id)).toEqual(settled);
      });

      it('writes nothing over a version that moved on, and answers false', async () => {
        const [request] = await inserted(aLockRequest());
        const cancelled = next(request, { state: 'CANCELLED', reason: 'changed my mind' });
        expect(await store.update(cancelled, 1)).toBe(true);

        const stale = next(request, { state: 'DENIED', reason: 'too late' });
        expect(await store.update(stale, 1)).toBe(false);
        expect(await store.get(request.id)).toEqual(cancelled);
      });

      it('refuses to rewrite what a request was made for and decided on, and writes nothing', async () => {
        const [request] = await inserted(
          aLockRequest({ approverGroups: ['dba-leads', 'security'] }),
        );
        const rewrites: Partial<LockRequest>[] = [
          { projectId: 'f'.repeat(32) },
          { instanceId: INSTANCES.financeStaging.id },
          { action: 'extend' },
          { retentionDays: 31 },
          { requesterIss: 'https://other.example.test' },
          { requesterSub: 'mallory' },
          { requesterGroups: ['dba-leads'] },
          { ruleId: 'another-rule' },
          { policyVersion: 'sha256:another' },
          { approvalsRequired: 1 },
          { approverGroups: ['dba-leads'] },
          { approverGroups: ['security', 'dba-leads'] },
          { coolingOffSeconds: 0 },
          { lockAtRequest: { ...request.lockAtRequest, enabled: true } },
          { lockAtRequest: { ...request.lockAtRequest, retentionDays: 30 } },
          { lockAtRequest: { ...request.lockAtRequest, endsAtMs: 4_102_444_800_000 } },
          { fingerprint: 'e'.repeat(64) },
          { createdAt: secondsFromNow(1) },
        ];
        for (const rewrite of rewrites) {
          const refusal = await rejection(
            store.update(
              next(request, { state: 'SCHEDULED', notBefore: FIXTURE_NOW, ...rewrite }),
              1,
            ),
          );
          expect([rewrite, refusal.message]).toEqual([
            rewrite,
            'what a lock request was made for and decided on never changes',
          ]);
        }
        expect(await store.get(request.id)).toEqual(request);
      });

      it('answers false for a request it does not have, and creates none', async () => {
        const unknown = next(aLockRequest(), { state: 'CANCELLED' });

        expect(await store.update(unknown, 1)).toBe(false);
        expect(await store.get(unknown.id)).toBeNull();
      });

      it('refuses a next version that does not follow the expected one', async () => {
        const [request] = await inserted(aLockRequest());

        await rejection(store.update({ ...request, state: 'CANCELLED', version: 3 }, 1));
        await rejection(store.update({ ...request, state: 'CANCELLED', version: 1 }, 1));
        expect(await store.get(request.id)).toEqual(request);
      });

      it('lets exactly one of concurrent updates from the same version win', async () => {
        const [request] = await inserted(
          aLockRequest({ state: 'SCHEDULED', notBefore: FIXTURE_NOW }),
        );
        const claims = Array.from({ length: 6 }, (_, n) =>
          next(request, {
            state: 'EXECUTING',
            executor: `replica-${n}`,
            claimUntil: secondsFromNow(30),
          }),
        );

        const won = await Promise.all(claims.map((claim) => store.update(claim, 1)));

        expect(won.filter(Boolean)).toHaveLength(1);
        expect(await store.get(request.id)).toEqual(claims[won.indexOf(true)]);
      });

      it('lets exactly one of two stores on the same storage claim a request, as two replicas race', async () => {
        const replicas = [store, await anotherStore()];
        const [request] = await inserted(
          aLockRequest({ state: 'SCHEDULED', notBefore: FIXTURE_NOW }),
        );
        const claims = Array.from({ length: 8 }, (_, n) =>
          next(request, {
            state: 'EXECUTING',
            executor: `replica-${n % 2}-${n}`,
            claimUntil: secondsFromNow(30),
          }),
        );

        const won = await Promise.all(claims.map((claim, n) => replicas[n % 2].update(claim, 1)));

        expect(won.filter(Boolean)).toHaveLength(1);
        const winner = claims[won.indexOf(true)];
        for (const replica of replicas) expect(await replica.get(request.id)).toEqual(winner);
      });
    });

    describe('list', () => {
      it('lists newest first, page by page after the last id seen', async () => {
        const requests = await inserted(...Array.from({ length: 5 }, () => aLockRequest()));
        const newestFirst = ids(requests).reverse();

        const first = await store.list({}, 2);
        expect(first).toEqual({ requests: [requests[4], requests[3]], more: true });
        const second = await store.list({ beforeId: requests[3].id }, 2);
        expect(ids(second.requests)).toEqual(newestFirst.slice(2, 4));
        expect(second.more).toBe(true);
        const last = await store.list({ beforeId: requests[1].id }, 2);
        expect(last).toEqual({ requests: [requests[0]], more: false });
        expect(await store.list({}, 5)).toEqual({ requests: [...requests].reverse(), more: false });
        expect(await store.list({ beforeId: requests[0].id }, 5)).toEqual({
          requests: [],
          more: false,
        });
      });

      it('filters on state, project, instance and requester, each alone and together', async () => {
        const otherInstance = INSTANCES.financeStaging.id;
        const [pending, scheduled, elsewhere, byCarol, otherProject] = await inserted(
          aLockRequest(),
          aLockRequest({ state: 'SCHEDULED', notBefore: FIXTURE_NOW }),
          aLockRequest({ instanceId: otherInstance }),
          aLockRequest({ requesterSub: 'carol' }),
          aLockRequest({ projectId: 'f'.repeat(32) }),
        );
        const listed = async (query: Parameters<LockRequestStore['list']>[0]) =>
          ids((await store.list(query, 10)).requests);

        expect(await listed({ state: 'SCHEDULED' })).toEqual([scheduled.id]);
        expect(await listed({ projectId: 'f'.repeat(32) })).toEqual([otherProject.id]);
        expect(await listed({ instanceId: otherInstance })).toEqual([elsewhere.id]);
        expect(await listed({ requester: { iss: pending.requesterIss, sub: 'carol' } })).toEqual([
          byCarol.id,
        ]);
        // A principal is its issuer and subject: the same subject of another issuer is someone else.
        expect(
          await listed({ requester: { iss: 'https://other.example.test', sub: 'carol' } }),
        ).toEqual([]);
        expect(
          await listed({
            state: 'PENDING_APPROVAL',
            projectId: pending.projectId,
            instanceId: pending.instanceId,
            requester: { iss: pending.requesterIss, sub: 'alice' },
          }),
        ).toEqual([pending.id]);
      });

      it('pages through a filtered listing', async () => {
        const mine = await inserted(
          aLockRequest(),
          aLockRequest({ requesterSub: 'carol' }),
          aLockRequest(),
          aLockRequest({ requesterSub: 'carol' }),
          aLockRequest(),
        );
        const alice = { iss: mine[0].requesterIss, sub: 'alice' };

        const first = await store.list({ requester: alice }, 2);
        expect(first).toEqual({ requests: [mine[4], mine[2]], more: true });
        const rest = await store.list({ requester: alice, beforeId: mine[2].id }, 2);
        expect(rest).toEqual({ requests: [mine[0]], more: false });
      });

      it("lists what awaits a principal's approval: a group in common, someone else's, not yet decided by it, pending", async () => {
        const bobsApproval = {
          approverIss: bob.iss,
          approverSub: bob.sub,
          decision: 'approve' as const,
          comment: null,
          at: FIXTURE_NOW,
        };
        const requests = await inserted(
          aLockRequest({ approverGroups: ['dba-leads'] }),
          aLockRequest({ approverGroups: ['security', 'auditors'] }),
          aLockRequest({ approverGroups: ['finance-leads'] }),
          aLockRequest({ requesterSub: bob.sub }),
          aLockRequest({ approvals: [bobsApproval] }),
          aLockRequest({ approvals: [{ ...bobsApproval, decision: 'deny' }] }),
          aLockRequest({ approvals: [{ ...bobsApproval, approverSub: 'carol' }] }),
          aLockRequest({
            approvals: [{ ...bobsApproval, approverIss: 'https://other.example.test' }],
          }),
          aLockRequest({ requesterIss: 'https://other.example.test', requesterSub: bob.sub }),
          aLockRequest({ state: 'SCHEDULED', notBefore: FIXTURE_NOW }),
          aLockRequest({ state: 'CANCELLED' }),
          aLockRequest({ approverGroups: [] }),
        );
        const awaiting = (n: number) => requests[n].id;
        const bobsGroups = { ...bob, groups: ['dba-leads', 'security'] };

        const listed = await store.list({ awaitingApprovalBy: bobsGroups }, 20);

        expect(ids(listed.requests)).toEqual([8, 7, 6, 1, 0].map(awaiting));
        const none = await store.list({ awaitingApprovalBy: { ...bob, groups: [] } }, 20);
        expect(none.requests).toEqual([]);
        const paged = await store.list(
          { awaitingApprovalBy: bobsGroups, beforeId: requests[7].id },
          2,
        );
        expect(paged).toEqual({ requests: [requests[6], requests[1]], more: true });
        const filtered = await store.list(
          { awaitingApprovalBy: bobsGroups, requester: { iss: bob.iss, sub: 'alice' } },
          20,
        );
        expect(ids(filtered.requests)).toEqual([7, 6, 1, 0].map(awaiting));
      });
    });

    describe('listActionable', () => {
      it('lists exactly what background work may have to move now, uncertain requests last', async () => {
        const requests = await inserted(
          aLockRequest({ expiresAt: secondsFromNow(-1) }),
          aLockRequest({ expiresAt: FIXTURE_NOW }),
          aLockRequest({ expiresAt: secondsFromNow(1) }),
          aLockRequest({ state: 'SCHEDULED', notBefore: secondsFromNow(-3_600) }),
          aLockRequest({ state: 'SCHEDULED', notBefore: FIXTURE_NOW }),
          aLockRequest({ state: 'SCHEDULED', notBefore: secondsFromNow(1) }),
          aLockRequest({ state: 'EXECUTING', executor: 'gone', claimUntil: secondsFromNow(-1) }),
          aLockRequest({ state: 'EXECUTING', executor: 'busy', claimUntil: FIXTURE_NOW }),
          aLockRequest({ state: 'EXECUTING', executor: 'busy', claimUntil: secondsFromNow(1) }),
          aLockRequest({ state: 'UNKNOWN', expiresAt: secondsFromNow(86_400) }),
          ...ENDED_LOCK_REQUEST_STATES.map((state) =>
            aLockRequest({
              state,
              notBefore: secondsFromNow(-7_200),
              expiresAt: secondsFromNow(-3_600),
              executor: 'gone',
              claimUntil: secondsFromNow(-3_600),
            }),
          ),
        );

        const actionable = await store.listActionable(FIXTURE_NOW, 50, FIXTURE_NOW);

        expect(actionable).toEqual([0, 3, 4, 6, 9].map((n) => requests[n]));
        expect(ids(await store.listActionable(FIXTURE_NOW, 2, FIXTURE_NOW))).toEqual(
          ids([requests[0], requests[3]]),
        );
        expect(ids(await store.listActionable(secondsFromNow(1), 50, FIXTURE_NOW))).toEqual(
          ids([0, 1, 3, 4, 5, 6, 7, 9].map((n) => requests[n])),
        );
        // Changed after the cut-off: not looked at again yet.
        expect(ids(await store.listActionable(FIXTURE_NOW, 50, secondsFromNow(-1)))).toEqual(
          ids([0, 3, 4, 6].map((n) => requests[n])),
        );
      });

      it('lists uncertain requests after every other, least recently changed first', async () => {
        const [later, earlier, due] = await inserted(
          aLockRequest({ state: 'UNKNOWN', updatedAt: secondsFromNow(-60) }),
          aLockRequest({ state: 'UNKNOWN', updatedAt: secondsFromNow(-600) }),
          aLockRequest({ state: 'SCHEDULED', notBefore: secondsFromNow(-1) }),
        );

        expect(ids(await store.listActionable(FIXTURE_NOW, 50, FIXTURE_NOW))).toEqual(
          ids([due, earlier, later]),
        );
        expect(ids(await store.listActionable(FIXTURE_NOW, 2, FIXTURE_NOW))).toEqual(
          ids([due, earlier]),
        );
      });

      it('leaves an uncertain request whose last reading proved nothing until its next reading', async () => {
        const [waiting, due, dueNow] = await inserted(
          aLockRequest({
            state: 'UNKNOWN',
            updatedAt: secondsFromNow(-600),
            nextReadingAt: secondsFromNow(1),
          }),
          aLockRequest({
            state: 'UNKNOWN',
            updatedAt: secondsFromNow(-600),
            nextReadingAt: secondsFromNow(-1),
          }),
          aLockRequest({
            state: 'UNKNOWN',
            updatedAt: secondsFromNow(-60),
            nextReadingAt: FIXTURE_NOW,
          }),
        );

        expect(ids(await store.listActionable(FIXTURE_NOW, 50, FIXTURE_NOW))).toEqual(
          ids([due, dueNow]),
        );
        expect(ids(await store.listActionable(secondsFromNow(1), 50, FIXTURE_NOW))).toEqual(
          ids([waiting, due, dueNow]),
        );
        // Its next reading is due, but it changed after the cut-off.
        expect(ids(await store.listActionable(FIXTURE_NOW, 50, secondsFromNow(-120)))).toEqual(
          ids([due]),
        );
      });

      it('refuses a time its deadlines cannot be compared with', async () => {
        await rejection(store.listActionable('2026-11-30T02:00:00Z', 10, FIXTURE_NOW));
        await rejection(store.listActionable(FIXTURE_NOW, 10, '2026-11-30T02:00:00Z'));
      });
    });

    it('shares its storage with every store on it, across a reopen', async () => {
      const [request] = await inserted(aLockRequest());
      const other = await anotherStore();
      expect(await other.get(request.id)).toEqual(request);

      await store.close();
      await store.open();
      await store.check();
      expect(await store.get(request.id)).toEqual(request);
    });

    describe('claimLease, one holder at a time', () => {
      const at = (seconds: number) => secondsFromNow(seconds);

      it('gives a free lease, renews it for its holder, and refuses it to another until it runs out', async () => {
        expect(await store.claimLease('settle', 'replica-a', at(0), at(30))).toBe(true);
        expect(await store.claimLease('settle', 'replica-b', at(1), at(31))).toBe(false);
        expect(await store.claimLease('settle', 'replica-a', at(20), at(50))).toBe(true);
        expect(await store.claimLease('settle', 'replica-b', at(49), at(79))).toBe(false);
        expect(await store.claimLease('settle', 'replica-b', at(50), at(80))).toBe(true);
        expect(await store.claimLease('settle', 'replica-a', at(51), at(81))).toBe(false);
      });

      it('keeps leases of different names apart', async () => {
        expect(await store.claimLease('settle', 'replica-a', at(0), at(30))).toBe(true);
        expect(await store.claimLease('checkpoint', 'replica-b', at(0), at(30))).toBe(true);
      });

      it('gives a free lease to exactly one of several stores claiming it at once', async () => {
        const stores = [store, await anotherStore(), await anotherStore()];
        const won = await Promise.all(
          stores.map((each, i) => each.claimLease('race', `replica-${i}`, at(0), at(30))),
        );
        expect(won.filter(Boolean)).toHaveLength(1);
      });
    });

    it('answers the readiness check while open, and refuses every call once closed', async () => {
      const [request] = await inserted(aLockRequest());
      await store.check();

      await store.close();

      for (const call of [
        () => store.check(),
        () => store.get(request.id),
        () => store.insert(aLockRequest()),
        () => store.update(next(request, { state: 'CANCELLED' }), 1),
        () => store.list({}, 10),
        () => store.listActionable(FIXTURE_NOW, 10, FIXTURE_NOW),
        () => store.claimLease('settle', 'replica-a', FIXTURE_NOW, FIXTURE_NOW),
      ]) {
        expect((await rejection(call())).message).toMatch(/not open/);
      }
    });
  });
}
