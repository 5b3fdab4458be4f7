import { randomUUID } from 'node:crypto';
import { validate as isUuid, version as uuidVersion } from 'uuid';
import type { Channel } from '../../common/call-context.js';
import { GatewayError, GwCode } from '../../common/gateway-error.js';
import { GatewayMetrics } from '../../common/gateway-metrics.js';
import { ManualClock } from '../../common/testing/manual-clock.js';
import { ACTIONS } from '../../domain/actions.js';
import { BACKGROUND_PRINCIPAL } from '../../domain/background-principal.js';
import { INSTANCES, PROJECTS } from '../../simulator/fixtures.js';
import { computeHash, GENESIS_HASH } from '../audit-chain.js';
import {
  AUDIT_ACTIONS,
  CRASHED_ERROR_CODE,
  type AuditAttempt,
  type AuditEvent,
  type AuditFilter,
} from '../audit-record.js';
import { AUDIT_COLUMN_NAMES } from '../audit-row.js';
import type { AuditStore } from '../audit-store.js';
import type { AuditTrail } from '../audit-trail.js';
import { anAttempt, startTrail } from './audit-fixtures.js';

/**
 * The contract every AuditStore passes, run through the AuditTrail that the gateway builds on
 * it. A store's spec calls `auditStoreContract` with a harness over real storage of its kind.
 */
export interface AuditStoreHarness {
  /** A new, unopened store on this harness's storage; every store of one harness shares it. */
  store(): AuditStore;
  /** SQL with every right and the append-only triggers off: what the database's owner can do. */
  tamper(sql: string): Promise<void>;
  /** SQL with the rights the gateway itself has. */
  asGateway(sql: string): Promise<void>;
  /** Removes the storage; the stores it handed out are closed first. */
  cleanup(): Promise<void>;
}

const succeeded = { outcome: 'succeeded', upstreamStatus: 200, durationMs: 41 } as const;

async function writes(metrics: GatewayMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.auditWrites.get();
  return Object.fromEntries(values.map((v) => [`${v.labels.kind}/${v.labels.result}`, v.value]));
}

async function allEvents(trail: AuditTrail): Promise<AuditEvent[]> {
  return (await trail.list({}, 500)).events;
}

export async function expectUnavailable(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  expect(error).toMatchObject({
    errorCode: GwCode.AUDIT_UNAVAILABLE,
    status: 503,
    message: 'audit trail unavailable',
  });
}

/** Copies the row `seq = copiedSeq` as a new row, with the given columns replaced by literals. */
function forgedInsert(copiedSeq: number, replaced: Record<string, string>): string {
  const values = AUDIT_COLUMN_NAMES.map((column) => replaced[column] ?? column);
  return `INSERT INTO audit_events (${AUDIT_COLUMN_NAMES.join(', ')})
    SELECT ${values.join(', ')} FROM audit_events WHERE seq = ${copiedSeq}`;
}

/** `value` as an SQL literal. */
function sqlText(value: string | null): string {
  return value === null ? 'NULL' : `'${value}'`;
}

export function auditStoreContract(name: string, newHarness: () => Promise<AuditStoreHarness>) {
  describe(`${name}: the audit store contract`, () => {
    let harness: AuditStoreHarness;
    let metrics: GatewayMetrics;
    let trail: AuditTrail;

    beforeEach(async () => {
      harness = await newHarness();
      metrics = new GatewayMetrics();
      trail = await startTrail(harness.store(), metrics);
    });

    afterEach(() => harness.cleanup());

    async function sealedChain(length: number): Promise<AuditEvent[]> {
      for (let n = 0; n < length; n += 1) {
        await trail.recordSealed(anAttempt({ requestId: `req-${n}` }), succeeded);
      }
      return (await allEvents(trail)).reverse();
    }

    /**
     * On a chain of two rows: each tampering breaks the chain at the row it names, for its
     * contents; `restore` puts that row back, after which the chain verifies again.
     */
    async function expectEachTamperingBreaks(
      tamperings: [sql: string, broken: AuditEvent][],
      restore: (broken: AuditEvent) => string,
    ): Promise<void> {
      for (const [sql, broken] of tamperings) {
        await harness.tamper(sql);
        expect({ sql, result: await trail.verify() }).toMatchObject({
          sql,
          result: {
            ok: false,
            firstBroken: { id: broken.id, reason: 'hash does not match the row contents' },
          },
        });
        await harness.tamper(restore(broken));
        expect(await trail.verify()).toEqual({ ok: true, rows: 2 });
      }
    }

    it('writes an open attempt, then seals it as the first link of the chain', async () => {
      const attempt = anAttempt({ decisionReasons: ['rule a: no match'] });
      const id = await trail.recordAttempt(attempt);

      expect(isUuid(id) && uuidVersion(id)).toBe(7);
      const [open] = await allEvents(trail);
      expect(open).toMatchObject({ id, seq: null, outcome: null, hash: null, prevHash: null });

      await trail.complete(id, succeeded);

      const [sealed] = await allEvents(trail);
      expect(sealed).toMatchObject({
        ...attempt,
        id,
        seq: 1,
        outcome: 'succeeded',
        upstreamStatus: 200,
        errorCode: null,
        durationMs: 41,
        prevHash: GENESIS_HASH,
      });
      expect(sealed.hash).toBe(computeHash(GENESIS_HASH, sealed));
      expect(await trail.verify()).toEqual({ ok: true, rows: 1 });
      expect(await writes(metrics)).toEqual({ 'attempt/ok': 1, 'outcome/ok': 1 });
    });

    it('writes a decision without an upstream call sealed in one step, chained after the last', async () => {
      const first = await trail.recordAttempt(anAttempt());
      await trail.complete(first, succeeded);

      const id = await trail.recordSealed(anAttempt({ dryRun: true }), {
        outcome: 'denied',
        errorCode: GwCode.POLICY_DENIED,
        durationMs: 3,
      });

      const [denied, completed] = await allEvents(trail);
      expect(denied).toMatchObject({ id, seq: 2, dryRun: true, outcome: 'denied' });
      expect(denied.prevHash).toBe(completed.hash);
      expect(denied.startedAt).toBe(denied.completedAt);
      expect(await trail.verify()).toEqual({ ok: true, rows: 2 });
      expect(await writes(metrics)).toMatchObject({ 'sealed/ok': 1 });
    });

    it('chains 200 interleaved attempts from two stores on the same storage, completed in random order', async () => {
      const other = await startTrail(harness.store());
      const trails = [trail, other];
      const ids = await Promise.all(
        Array.from({ length: 200 }, (_, n) =>
          trails[n % 2].recordAttempt(anAttempt({ requestId: `req-${n}` })),
        ),
      );
      const shuffled = [...ids].sort(() => Math.random() - 0.5);

      await Promise.all(shuffled.map((id, n) => trails[n % 2].complete(id, succeeded)));

      expect(await trail.verify()).toEqual({ ok: true, rows: 200 });
      const events = await allEvents(other);
      expect(events.map((e) => e.seq).sort((a, b) => (a as number) - (b as number))).toEqual(
        Array.from({ length: 200 }, (_, n) => n + 1),
      );
      expect(new Set(events.map((e) => e.id))).toEqual(new Set(ids));
    });

    it('commits concurrent writes together, every one of them durable and chained', async () => {
      const ids = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          trail.recordAttempt(anAttempt({ requestId: `g-${i}` })),
        ),
      );
      await Promise.all(
        ids.map((id) => trail.complete(id, { outcome: 'succeeded', durationMs: 1 })),
      );

      expect(await writes(metrics)).toEqual({ 'attempt/ok': 40, 'outcome/ok': 40 });
      const commits = (await metrics.auditCommitBatch.get()).values.find(
        (v) => v.metricName === 'gateway_audit_commit_batch_size_count',
      )?.value;
      // 80 writes in a handful of transactions (one per burst), not 80 commits.
      expect(commits).toBeLessThan(10);
      expect(await trail.verify()).toEqual({ ok: true, rows: 40 });
    });

    it('rolls back only the failing write of a group commit', async () => {
      const [first, missing, second] = await Promise.allSettled([
        trail.recordAttempt(anAttempt({ requestId: 'kept-1' })),
        trail.complete('0190a000-0000-7000-8000-00000000dead', succeeded),
        trail.recordAttempt(anAttempt({ requestId: 'kept-2' })),
      ]);
      expect(first.status).toBe('fulfilled');
      expect(missing.status).toBe('rejected');
      expect(second.status).toBe('fulfilled');
      const kept = (await allEvents(trail)).map((event) => event.requestId).sort();
      expect(kept).toEqual(['kept-1', 'kept-2']);
    });

    it('fails only the write whose row the store rejects, committing the rest of its batch', async () => {
      const [first, rejected, second] = await Promise.allSettled([
        trail.recordSealed(anAttempt({ requestId: 'kept-1' }), succeeded),
        trail.recordSealed(anAttempt({ requestId: 'bad', channel: 'soap' as Channel }), succeeded),
        trail.recordSealed(anAttempt({ requestId: 'kept-2' }), succeeded),
      ]);
      expect([first.status, rejected.status, second.status]).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
      ]);
      await expectUnavailable(Promise.reject((rejected as PromiseRejectedResult).reason));
      const kept = (await allEvents(trail)).map((event) => event.requestId).sort();
      expect(kept).toEqual(['kept-1', 'kept-2']);
      expect(await trail.verify()).toEqual({ ok: true, rows: 2 });
    });

    it("keeps the rows of one request apart, each with its own id and the caller's correlation id", async () => {
      // One GraphQL request may hold several audited calls: each is a row of its own.
      const calls = anAttempt({ requestId: 'gateway-1', correlationId: 'caller-trace-1' });
      const first = await trail.recordSealed(calls, succeeded);
      const second = await trail.recordSealed(calls, succeeded);
      expect(second).not.toBe(first);
      const events = await allEvents(trail);
      expect(events.map((event) => [event.requestId, event.correlationId])).toEqual([
        ['gateway-1', 'caller-trace-1'],
        ['gateway-1', 'caller-trace-1'],
      ]);
      expect(await trail.verify()).toEqual({ ok: true, rows: 2 });
    });

    it('keeps the trace id of the call, hashed once set: setting, changing or clearing it breaks the chain', async () => {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      await trail.recordSealed(anAttempt(), succeeded);
      await trail.recordSealed(anAttempt({ traceId }), succeeded);
      const [traced, untraced] = await allEvents(trail);
      expect([traced.traceId, untraced.traceId]).toEqual([traceId, null]);
      expect(await trail.verify()).toEqual({ ok: true, rows: 2 });
      const tamperings: [sql: string, broken: AuditEvent][] = [
        ['UPDATE audit_events SET trace_id = NULL WHERE seq = 2', traced],
        [`UPDATE audit_events SET trace_id = '${'0'.repeat(31)}1' WHERE seq = 2`, traced],
        [`UPDATE audit_events SET trace_id = '${traceId}' WHERE seq = 1`, untraced],
      ];
      await expectEachTamperingBreaks(
        tamperings,
        (broken) =>
          `UPDATE audit_events SET trace_id = ${sqlText(broken.traceId)} WHERE id = '${broken.id}'`,
      );
    });

    describe('rows of lock requests', () => {
      const lockRequestId = randomUUID();
      /** A transition written by background work, as the scheduler writes it. */
      const scheduled = (overrides: Partial<AuditAttempt>): AuditAttempt =>
        anAttempt({
          channel: 'scheduler',
          principalIss: BACKGROUND_PRINCIPAL.issuer,
          principalSub: BACKGROUND_PRINCIPAL.subject,
          callerAddress: BACKGROUND_PRINCIPAL.callerAddress,
          lockRequestId,
          ...overrides,
        });

      it('keeps every transition action, the scheduler channel, the request and the row a settle settles', async () => {
        const transitions = AUDIT_ACTIONS.filter(
          (action) => !(ACTIONS as readonly string[]).includes(action),
        );
        const unknown = await trail.recordAttempt(scheduled({ action: 'execute' }));
        await trail.complete(unknown, { outcome: 'unknown', durationMs: 5 });
        const written = [];
        for (const action of transitions) {
          const attempt = scheduled({
            action,
            settlesAuditId: action === 'settle' ? unknown : null,
          });
          written.push({ ...attempt, id: await trail.recordSealed(attempt, succeeded) });
        }

        const events = (await allEvents(trail)).reverse();
        expect(events.slice(1)).toEqual(written.map((attempt) => expect.objectContaining(attempt)));
        expect(events.map((event) => event.action)).toEqual(['execute', ...transitions]);
        expect(events.find((event) => event.action === 'settle')?.settlesAuditId).toBe(unknown);
        expect(await trail.verify()).toEqual({ ok: true, rows: transitions.length + 1 });
      });

      it('hashes the request and the settled row: setting, changing or clearing either breaks the chain', async () => {
        await trail.recordSealed(anAttempt(), succeeded);
        await trail.recordSealed(
          scheduled({ action: 'settle', settlesAuditId: randomUUID() }),
          succeeded,
        );
        const [settled, single] = await allEvents(trail);
        const tamperings: [sql: string, broken: AuditEvent][] = [
          [`UPDATE audit_events SET lock_request_id = '${randomUUID()}' WHERE seq = 2`, settled],
          ['UPDATE audit_events SET lock_request_id = NULL WHERE seq = 2', settled],
          [`UPDATE audit_events SET lock_request_id = '${lockRequestId}' WHERE seq = 1`, single],
          ['UPDATE audit_events SET settles_audit_id = NULL WHERE seq = 2', settled],
          [`UPDATE audit_events SET settles_audit_id = '${single.id}' WHERE seq = 2`, settled],
        ];
        await expectEachTamperingBreaks(
          tamperings,
          (broken) =>
            `UPDATE audit_events SET lock_request_id = ${sqlText(broken.lockRequestId)},
              settles_audit_id = ${sqlText(broken.settlesAuditId)} WHERE id = '${broken.id}'`,
        );
      });

      it('lists the rows of one request, newest first, with the other filters', async () => {
        const other = randomUUID();
        const ids = [
          await trail.recordSealed(scheduled({ action: 'request' }), succeeded),
          await trail.recordSealed(
            scheduled({ action: 'request', lockRequestId: other }),
            succeeded,
          ),
          await trail.recordSealed(anAttempt(), succeeded),
          await trail.recordSealed(scheduled({ action: 'approve' }), succeeded),
          await trail.recordSealed(scheduled({ action: 'void' }), {
            ...succeeded,
            outcome: 'failed',
          }),
        ];
        const listed = async (filter: AuditFilter) =>
          (await trail.list(filter, 100)).events.map((e) => ids.indexOf(e.id));

        expect(await listed({ lockRequestId })).toEqual([4, 3, 0]);
        expect(await listed({ lockRequestId: other })).toEqual([1]);
        expect(await listed({ lockRequestId, outcome: 'failed' })).toEqual([4]);
        expect(await listed({ lockRequestId: randomUUID() })).toEqual([]);
        const page = await trail.list({ lockRequestId }, 2);
        expect(page.events.map((e) => ids.indexOf(e.id))).toEqual([4, 3]);
        const next = await trail.list({ lockRequestId }, 2, page.nextCursor as string);
        expect(next.events.map((e) => ids.indexOf(e.id))).toEqual([0]);
      });

      it('lists the rows that settle an unknown one', async () => {
        const lost = await trail.recordSealed(anAttempt(), {
          ...succeeded,
          outcome: 'unknown',
          errorCode: 'GW.UPSTREAM_TIMEOUT',
        });
        const settle = await trail.recordSealed(
          scheduled({ action: 'settle', settlesAuditId: lost }),
          succeeded,
        );
        await trail.recordSealed(
          scheduled({ action: 'settle', settlesAuditId: randomUUID() }),
          succeeded,
        );

        expect((await trail.list({ settlesAuditId: lost }, 10)).events.map((e) => e.id)).toEqual([
          settle,
        ]);
        expect((await trail.list({ settlesAuditId: settle }, 10)).events).toEqual([]);
      });
    });

    it('refuses to seal a row twice or a row that does not exist', async () => {
      const id = await trail.recordAttempt(anAttempt());
      await trail.complete(id, succeeded);

      for (const target of [id, '0190a000-0000-7000-8000-000000000000']) {
        await expect(trail.complete(target, succeeded)).rejects.toMatchObject({
          errorCode: GwCode.INTERNAL,
        });
      }
      expect((await allEvents(trail))[0].seq).toBe(1);
    });

    it('does not let a sealed row be changed or deleted with the gateway rights', async () => {
      await sealedChain(1);

      await expect(harness.asGateway("UPDATE audit_events SET outcome = 'failed'")).rejects.toThrow(
        'sealed audit rows cannot be changed',
      );
      await expect(harness.asGateway('DELETE FROM audit_events')).rejects.toThrow(
        /audit rows cannot be deleted|permission denied for table audit_events/,
      );
      expect(await trail.verify()).toEqual({ ok: true, rows: 1 });
    });

    describe('tampering', () => {
      let rows: AuditEvent[];

      beforeEach(async () => {
        rows = await sealedChain(5);
      });

      it('finds a changed field', async () => {
        await harness.tamper('UPDATE audit_events SET retention_days = 3650 WHERE seq = 3');

        expect(await trail.verify()).toEqual({
          ok: false,
          rows: 2,
          firstBroken: { seq: 3, id: rows[2].id, reason: 'hash does not match the row contents' },
        });
      });

      it('names a row whose stored reasons no longer decode instead of giving up', async () => {
        await harness.tamper(`UPDATE audit_events SET decision_reasons = 'not json' WHERE seq = 4`);

        expect(await trail.verify()).toMatchObject({
          ok: false,
          rows: 3,
          firstBroken: { seq: 4, id: rows[3].id, reason: expect.stringMatching(/unreadable/) },
        });
      });

      it('finds a deleted row', async () => {
        await harness.tamper('DELETE FROM audit_events WHERE seq = 2');

        expect(await trail.verify()).toEqual({
          ok: false,
          rows: 1,
          firstBroken: {
            seq: 3,
            id: rows[2].id,
            reason: 'expected seq 2, found 3: a sealed row is missing',
          },
        });
      });

      it('finds two rows whose seq were swapped', async () => {
        await harness.tamper('UPDATE audit_events SET seq = -seq WHERE seq IN (2, 4)');
        await harness.tamper(
          'UPDATE audit_events SET seq = CASE seq WHEN -2 THEN 4 ELSE 2 END WHERE seq < 0',
        );

        expect(await trail.verify()).toMatchObject({
          ok: false,
          rows: 1,
          firstBroken: { seq: 2, id: rows[3].id },
        });
      });

      it('finds a forged row appended to the chain', async () => {
        const forgedId = '0190a000-0000-7000-8000-000000000001';
        await harness.tamper(
          forgedInsert(5, {
            id: `'${forgedId}'`,
            seq: '6',
            request_id: "'forged-1'",
            prev_hash: `'${rows[4].hash}'`,
            hash: `'${'a'.repeat(64)}'`,
          }),
        );

        expect(await trail.verify()).toEqual({
          ok: false,
          rows: 5,
          firstBroken: { seq: 6, id: forgedId, reason: 'hash does not match the row contents' },
        });
      });

      it('finds a forged row slipped into the middle with a correctly computed hash', async () => {
        const forged: AuditEvent = {
          ...rows[1],
          id: '0190a000-0000-7000-8000-000000000002',
          seq: 3,
          requestId: 'forged-2',
        };
        forged.prevHash = rows[1].hash;
        forged.hash = computeHash(forged.prevHash as string, forged);
        await harness.tamper('UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3');
        await harness.tamper('UPDATE audit_events SET seq = seq - 99 WHERE seq > 100');
        await harness.tamper(
          forgedInsert(2, {
            id: `'${forged.id}'`,
            seq: '3',
            request_id: `'${forged.requestId}'`,
            prev_hash: `'${forged.prevHash}'`,
            hash: `'${forged.hash}'`,
          }),
        );

        expect(await trail.verify()).toMatchObject({
          ok: false,
          rows: 3,
          firstBroken: { seq: 4, id: rows[2].id },
        });
      });
    });

    it('closes attempts left open by a writer that stopped as unknown when the next one starts', async () => {
      const done = await trail.recordAttempt(anAttempt({ requestId: 'done' }));
      const lost = await trail.recordAttempt(anAttempt({ requestId: 'lost' }));
      await trail.complete(done, succeeded);
      await trail.close();

      const restarted = await startTrail(harness.store());
      expect(await restarted.reconcileOpenAttempts()).toBe(0);

      const [closed] = await allEvents(restarted);
      expect(closed).toMatchObject({
        id: lost,
        seq: 2,
        outcome: 'unknown',
        errorCode: CRASHED_ERROR_CODE,
        durationMs: null,
        upstreamStatus: null,
      });
      expect(closed.completedAt).not.toBeNull();
      expect(await restarted.verify()).toEqual({ ok: true, rows: 2 });
    });

    describe('list', () => {
      const other = INSTANCES.financeStaging.id;
      let ids: string[];

      beforeEach(async () => {
        const clock = new ManualClock(new Date('2025-03-01T10:00:00.000Z'));
        await trail.close();
        trail = await startTrail(harness.store(), metrics, clock);
        ids = [];
        const record = async (at: string, instanceId: string, outcome: 'succeeded' | 'denied') => {
          clock.current = new Date(at);
          ids.push(await trail.recordSealed(anAttempt({ instanceId }), { ...succeeded, outcome }));
        };
        await record('2025-03-01T10:00:00.000Z', INSTANCES.financeProd.id, 'succeeded');
        await record('2025-03-02T10:00:00.000Z', other, 'denied');
        await record('2025-03-03T10:00:00.000Z', INSTANCES.financeProd.id, 'denied');
        await record('2025-03-04T10:00:00.000Z', other, 'succeeded');
        await record('2025-03-05T10:00:00.000Z', INSTANCES.financeProd.id, 'succeeded');
      });

      const listed = async (filter: AuditFilter) =>
        (await trail.list(filter, 100)).events.map((e) => ids.indexOf(e.id));

      it('answers newest first', async () => {
        expect(await listed({})).toEqual([4, 3, 2, 1, 0]);
      });

      it('filters by project, instance and outcome', async () => {
        expect(await listed({ projectId: PROJECTS.cnNorth4.id })).toEqual([4, 3, 2, 1, 0]);
        expect(await listed({ projectId: PROJECTS.apSoutheast1.id })).toEqual([]);
        expect(await listed({ instanceId: other })).toEqual([3, 1]);
        expect(await listed({ outcome: 'denied' })).toEqual([2, 1]);
        expect(await listed({ instanceId: other, outcome: 'denied' })).toEqual([1]);
      });

      it('filters by start time, since inclusive and until exclusive', async () => {
        expect(await listed({ since: new Date('2025-03-02T10:00:00.000Z') })).toEqual([4, 3, 2, 1]);
        expect(await listed({ until: new Date('2025-03-02T10:00:00.000Z') })).toEqual([0]);
        expect(
          await listed({
            since: new Date('2025-03-02T00:00:00.000Z'),
            until: new Date('2025-03-04T00:00:00.000Z'),
          }),
        ).toEqual([2, 1]);
      });

      it('pages with an opaque cursor until the last page', async () => {
        const first = await trail.list({ instanceId: INSTANCES.financeProd.id }, 2);
        expect(first.events.map((e) => ids.indexOf(e.id))).toEqual([4, 2]);
        expect(first.nextCursor).not.toContain(ids[2]);

        const second = await trail.list(
          { instanceId: INSTANCES.financeProd.id },
          2,
          first.nextCursor as string,
        );
        expect(second.events.map((e) => ids.indexOf(e.id))).toEqual([0]);
        expect(second.nextCursor).toBeNull();

        const exact = await trail.list({}, 5);
        expect(exact.nextCursor).toBeNull();
      });

      it('refuses a limit out of range, a cursor it did not issue and a time it cannot compare', async () => {
        for (const limit of [0, 501, 1.5]) {
          await expect(trail.list({}, limit)).rejects.toMatchObject({
            errorCode: GwCode.VALIDATION,
            status: 400,
          });
        }
        await expect(trail.list({}, 10, 'bm90LWEtY3Vyc29y')).rejects.toMatchObject({
          errorCode: GwCode.VALIDATION,
        });
        await expect(trail.list({ since: new Date('nope') }, 10)).rejects.toMatchObject({
          errorCode: GwCode.VALIDATION,
        });
        // Stored times are four-digit-year text: a six-digit year would compare below all of them.
        await expect(
          trail.list({ since: new Date('+010000-01-01T00:00:00Z') }, 10),
        ).rejects.toMatchObject({ errorCode: GwCode.VALIDATION, message: /since: .*year/ });
      });
    });

    it('answers 503 GW.AUDIT_UNAVAILABLE once closed', async () => {
      const id = await trail.recordAttempt(anAttempt());
      await trail.close();

      await expectUnavailable(trail.recordAttempt(anAttempt()));
      await expectUnavailable(trail.complete(id, succeeded));
      await expectUnavailable(trail.checkWritable());
      await expectUnavailable(trail.verify());
    });

    it('commits and answers every write asked for before close, and refuses the ones after', async () => {
      // The race this guards against (answers of the last commit still on their way when the
      // store stopped) showed in most rounds, not all: ten rounds make it certain.
      await trail.close();
      for (let round = 0; round < 10; round += 1) {
        const closing = await startTrail(harness.store());
        const queued = Array.from({ length: 50 }, (_, n) =>
          closing.recordSealed(anAttempt({ requestId: `queued-${round}-${n}` }), succeeded),
        );
        await closing.close();

        const settled = await Promise.race([
          Promise.allSettled(queued),
          new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 2000)),
        ]);
        expect(settled).not.toBe('hung');
        expect((settled as PromiseSettledResult<string>[]).map((s) => s.status)).toEqual(
          Array(50).fill('fulfilled'),
        );
        await expectUnavailable(closing.recordAttempt(anAttempt()));
      }
      const reader = await startTrail(harness.store());
      expect(await reader.verify()).toEqual({ ok: true, rows: 500 });
    });

    it('waits at shutdown for open attempts to be sealed before it closes', async () => {
      const id = await trail.recordAttempt(anAttempt());
      let shutDown = false;
      const shutdown = trail.onApplicationShutdown().then(() => {
        shutDown = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(shutDown).toBe(false);

      await trail.complete(id, succeeded);
      await shutdown;
      const reader = await startTrail(harness.store());
      expect((await allEvents(reader)).map((e) => e.outcome)).toEqual(['succeeded']);
    });

    it('passes the write probe while it can be written', async () => {
      await expect(trail.checkWritable()).resolves.toBeUndefined();
      expect(trail.isAlive()).toBe(true);
    });
  });
}
