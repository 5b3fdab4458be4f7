import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../audit/audit-record.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import type { AuthConfig } from '../auth/auth.config.js';
import { AuditStoreDir } from '../audit/testing/audit-fixtures.js';
import type { CallContext } from '../common/call-context.js';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { BACKGROUND_PRINCIPAL } from '../domain/background-principal.js';
import { Principal } from '../domain/principal.js';
import {
  LockRequestNotifier,
  type LockRequestEvent,
} from '../notifications/lock-request-notifier.js';
import { INSTANCES } from '../simulator/fixtures.js';
import { TaurusDb, type TaurusDbCaller } from '../taurusdb/taurusdb.js';
import type { VaultLockInfo } from '../taurusdb/taurusdb.types.js';
import { LockRequestRecorder, MAX_LOST_RACES } from './lock-request-recorder.js';
import { LockRequestStore } from './lock-request-store.js';
import { claimLockRequest, lockRequestFingerprint } from './lock-request-transitions.js';
import { LockRequestsService } from './lock-requests.service.js';
import { SqliteLockRequestStore } from './sqlite-lock-request-store.js';

const T0 = new Date('2026-11-30T02:00:00.000Z');

/** The gateway clock, moved by the test. */
class ManualClock extends Clock {
  current = T0;
  private monotonic = 0;

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
    this.current = new Date(this.current.getTime() + seconds * 1000);
  }
}

/** TaurusDB's lock read; the only call lock requests make on a caller's behalf. */
class LockReadingTaurusDb extends TaurusDb {
  lock: VaultLockInfo = { backup_vaultlock_info: { lock_policy: false } };
  readFailure?: Error;
  readers: string[] = [];

  async showLock(caller: TaurusDbCaller): Promise<VaultLockInfo> {
    this.readers.push(caller.principal.subject);
    if (this.readFailure) throw this.readFailure;
    return this.lock;
  }

  instanceDetails(): never {
    throw new Error('lock requests never ask for instance details');
  }

  setLock(): never {
    throw new Error('lock requests never change the lock on a caller’s behalf');
  }

  listInstances(): never {
    throw new Error('lock requests never list instances');
  }
}

/** A store whose compare-and-sets lose a given number of times to a writer that got there first. */
class RacingStore extends SqliteLockRequestStore {
  lose = 0;
  /** The database's refusal of the next compare-and-set. */
  updateFailure?: Error;

  override async update(
    next: Parameters<LockRequestStore['update']>[0],
    expected: number,
  ): Promise<boolean> {
    if (this.updateFailure) throw this.updateFailure;
    if (this.lose > 0) {
      this.lose -= 1;
      const current = await this.get(next.id);
      if (current) await super.update({ ...current, version: current.version + 1 }, expected);
      return false;
    }
    return super.update(next, expected);
  }
}

/** The events a webhook would be sent, in order. */
class RecordingNotifier extends LockRequestNotifier {
  readonly events: LockRequestEvent[] = [];

  notify(event: LockRequestEvent): void {
    this.events.push(event);
  }
}

const ISSUER = 'https://idp.example.test';
const contextOf = (subject: string, groups: string[]): CallContext => ({
  requestId: randomUUID(),
  correlationId: null,
  channel: 'graphql',
  principal: new Principal(ISSUER, subject, groups, 'raw-internal-jwt'),
  callerAddress: '127.0.0.1',
});
const alice = contextOf('alice', ['dba']);
const bob = contextOf('bob', ['dba-leads']);
const carol = contextOf('carol', ['dba-leads']);
const dave = contextOf('dave', ['dba']);
const auditor = contextOf('erin', ['auditor']);

const change = {
  projectId: INSTANCES.financeProd.projectId,
  instanceId: INSTANCES.financeProd.id,
  action: 'enable' as const,
  retentionDays: 30,
};
const twoApprovals = {
  ruleId: 'finance-approved',
  policyVersion: 'sha256:v1',
  approvalsRequired: 2,
  approverGroups: ['dba-leads'],
  coolingOffSeconds: 600,
};
const TIMINGS = { approvalTtlSeconds: 86_400, executionWindowSeconds: 3_600 };

describe('LockRequestsService', () => {
  let dir: AuditStoreDir;
  let audit: AuditTrail;
  let store: RacingStore;
  let clock: ManualClock;
  let taurusDb: LockReadingTaurusDb;
  let service: LockRequestsService;
  let notifier: RecordingNotifier;

  beforeEach(async () => {
    dir = new AuditStoreDir();
    clock = new ManualClock();
    audit = await dir.start(dir.file(), new GatewayMetrics(), clock);
    store = new RacingStore(dir.file());
    await store.open();
    taurusDb = new LockReadingTaurusDb();
    notifier = new RecordingNotifier();
    service = new LockRequestsService(
      store,
      new LockRequestRecorder(store, audit, clock, notifier, new GatewayMetrics()),
      taurusDb,
      clock,
      TIMINGS,
      { auditorGroup: 'auditor' } as AuthConfig,
    );
  });

  afterEach(async () => {
    await store.close();
    await dir.cleanup();
  });

  /** The rows of one request, oldest first. */
  async function rowsOf(lockRequestId: string): Promise<AuditEvent[]> {
    const page = await audit.list({ lockRequestId }, 100);
    return page.events.reverse();
  }

  const requested = async () => (await service.request(alice, change, twoApprovals)).request;

  describe('request', () => {
    it('reads the lock on the caller’s behalf after its row, and binds the request to it', async () => {
      taurusDb.lock = {
        backup_vaultlock_info: {
          lock_policy: true,
          lock_retention_days: 7,
          lock_end_time: 1_900_000_000_000,
        },
      };
      const { request, auditId } = await service.request(alice, change, twoApprovals);

      expect(taurusDb.readers).toEqual(['alice']);
      expect(request).toMatchObject({
        state: 'PENDING_APPROVAL',
        requesterIss: ISSUER,
        requesterSub: 'alice',
        requesterGroups: ['dba'],
        ruleId: 'finance-approved',
        approverGroups: ['dba-leads'],
        lockAtRequest: { enabled: true, retentionDays: 7, endsAtMs: 1_900_000_000_000 },
        expiresAt: new Date(T0.getTime() + 86_400_000).toISOString(),
      });
      expect(request.fingerprint).toBe(lockRequestFingerprint(request, request.lockAtRequest));
      expect(await store.get(request.id)).toEqual(request);
      const [row] = await rowsOf(request.id);
      expect(row).toMatchObject({
        id: auditId,
        action: 'request',
        lockRequestId: request.id,
        principalSub: 'alice',
        channel: 'graphql',
        projectId: change.projectId,
        instanceId: change.instanceId,
        retentionDays: 30,
        decisionAllowed: true,
        decisionRule: 'finance-approved',
        policyVersion: 'sha256:v1',
        outcome: 'succeeded',
      });
    });

    it('is scheduled straight away when only a cooling-off applies', async () => {
      const { request } = await service.request(alice, change, {
        ...twoApprovals,
        approvalsRequired: 0,
        approverGroups: [],
      });
      expect(request).toMatchObject({
        state: 'SCHEDULED',
        notBefore: new Date(T0.getTime() + 600_000).toISOString(),
      });
    });

    it('seals its row with the failure and stores nothing when the lock cannot be read', async () => {
      taurusDb.readFailure = new GatewayError(GwCode.UPSTREAM_UNAVAILABLE, 503, 'down');
      const failure = await service.request(alice, change, twoApprovals).catch((e: unknown) => e);

      expect(failure).toMatchObject({ errorCode: GwCode.UPSTREAM_UNAVAILABLE, status: 503 });
      const [row] = (await audit.list({}, 10)).events;
      expect(row).toMatchObject({
        id: (failure as GatewayError).auditId,
        action: 'request',
        outcome: 'failed',
        errorCode: GwCode.UPSTREAM_UNAVAILABLE,
      });
      expect((await store.list({}, 10)).requests).toEqual([]);
      expect(notifier.events).toEqual([]);
    });
  });

  describe('approve, deny, cancel', () => {
    it('takes two distinct approvals to schedule, each a row of its approver', async () => {
      const made = await requested();
      clock.advance(60);
      const { request: once } = await service.approve(bob, made.id, 'looks right');
      expect(once).toMatchObject({ state: 'PENDING_APPROVAL', version: 2 });
      clock.advance(60);
      const { request: twice } = await service.approve(carol, made.id, null);
      expect(twice).toMatchObject({
        state: 'SCHEDULED',
        version: 3,
        notBefore: new Date(T0.getTime() + (120 + 600) * 1000).toISOString(),
      });
      expect(await store.get(made.id)).toEqual(twice);

      const rows = await rowsOf(made.id);
      expect(rows.map((row) => [row.action, row.principalSub, row.outcome])).toEqual([
        ['request', 'alice', 'succeeded'],
        ['approve', 'bob', 'succeeded'],
        ['approve', 'carol', 'succeeded'],
      ]);
      expect(notifier.events.map((e) => [e.event, e.lockRequest.approvals.length])).toEqual([
        ['lock_request.pending_approval', 0],
        ['lock_request.pending_approval', 1],
        ['lock_request.scheduled', 2],
      ]);
    });

    it.each([
      ['the requester', alice, GwCode.SELF_APPROVAL, 403, 'denied'],
      [
        'an auditor, who may read it but not approve',
        auditor,
        GwCode.NOT_AN_APPROVER,
        403,
        'denied',
      ],
      ['a caller who may not even read it', dave, GwCode.NOT_FOUND, 404, 'rejected'],
    ])('refuses %s, with a row and no change', async (_who, ctx, errorCode, status, outcome) => {
      const made = await requested();
      const refusal = await service.approve(ctx, made.id, null).catch((e: unknown) => e);

      expect(refusal).toBeInstanceOf(GatewayError);
      expect(refusal).toMatchObject({ errorCode, status });
      expect(await store.get(made.id)).toEqual(made);
      expect(notifier.events).toHaveLength(1);
      const rows = await rowsOf(made.id);
      expect(rows[1]).toMatchObject({
        id: (refusal as GatewayError).auditId,
        action: 'approve',
        principalSub: ctx.principal.subject,
        decisionAllowed: false,
        decisionReasons: [(refusal as GatewayError).message],
        outcome,
        errorCode,
      });
    });

    it('refuses a second approval by the same approver, and a closed request', async () => {
      const made = await requested();
      await service.approve(bob, made.id, null);
      await expect(service.approve(bob, made.id, null)).rejects.toMatchObject({
        errorCode: GwCode.ALREADY_DECIDED,
        status: 409,
      });
      await service.deny(carol, made.id, 'wrong instance');
      await expect(
        service.approve(contextOf('frank', ['dba-leads']), made.id, null),
      ).rejects.toMatchObject({ errorCode: GwCode.REQUEST_CLOSED, status: 409 });
      const rows = await rowsOf(made.id);
      expect(rows.map((row) => [row.action, row.outcome, row.errorCode])).toEqual([
        ['request', 'succeeded', null],
        ['approve', 'succeeded', null],
        ['approve', 'rejected', GwCode.ALREADY_DECIDED],
        ['deny', 'succeeded', null],
        ['approve', 'rejected', GwCode.REQUEST_CLOSED],
      ]);
    });

    it('treats a request past its approval TTL as closed', async () => {
      const made = await requested();
      clock.advance(86_400);
      await expect(service.approve(bob, made.id, null)).rejects.toMatchObject({
        errorCode: GwCode.REQUEST_CLOSED,
        message: expect.stringContaining('expired') as string,
      });
    });

    it('ends the request with one deny, keeping the comment', async () => {
      const made = await requested();
      expect((await service.deny(bob, made.id, 'not this one')).request).toMatchObject({
        state: 'DENIED',
        reason: 'not this one',
        approvals: [{ approverSub: 'bob', decision: 'deny', comment: 'not this one' }],
      });
    });

    it('lets the requester cancel, and stores comments with their control characters escaped', async () => {
      const made = await requested();
      expect((await service.cancel(alice, made.id, 'typo\u0007 in days')).request).toMatchObject({
        state: 'CANCELLED',
        reason: 'typo\\u0007 in days',
      });
      expect((await rowsOf(made.id))[1]).toMatchObject({ action: 'cancel', outcome: 'succeeded' });
    });

    it('answers 404 for an unknown id, with no row', async () => {
      const id = '0193a000-0000-7000-8000-000000000000';
      await expect(service.approve(bob, id, null)).rejects.toMatchObject({
        errorCode: GwCode.NOT_FOUND,
        status: 404,
      });
      expect((await audit.list({}, 10)).events).toEqual([]);
    });

    it('applies an approval again on what a racing writer left, and counts it', async () => {
      const made = await requested();
      store.lose = 2;
      const { request: approved } = await service.approve(bob, made.id, null);
      expect(approved).toMatchObject({ state: 'PENDING_APPROVAL', version: 4 });
      expect(approved.approvals.map((a) => a.approverSub)).toEqual(['bob']);
      expect((await rowsOf(made.id)).map((row) => row.outcome)).toEqual(['succeeded', 'succeeded']);
    });

    it('answers 503 when the store cannot be written, sealing its row as failed', async () => {
      const made = await requested();
      store.updateFailure = new Error('disk I/O error at /var/lib/secret-path');
      const failure = await service.approve(bob, made.id, null).catch((e: unknown) => e);

      expect(failure).toMatchObject({
        errorCode: GwCode.AUDIT_UNAVAILABLE,
        status: 503,
        message: 'lock request store unavailable',
      });
      expect((await rowsOf(made.id))[1]).toMatchObject({
        id: (failure as GatewayError).auditId,
        action: 'approve',
        outcome: 'failed',
        errorCode: GwCode.AUDIT_UNAVAILABLE,
      });
      expect(notifier.events).toHaveLength(1);
    });

    it('gives up after losing every race, sealing its row as rejected', async () => {
      const made = await requested();
      store.lose = MAX_LOST_RACES;
      await expect(service.approve(bob, made.id, null)).rejects.toMatchObject({
        errorCode: GwCode.REQUEST_CHANGED,
        status: 409,
      });
      expect((await rowsOf(made.id))[1]).toMatchObject({
        action: 'approve',
        decisionAllowed: true,
        outcome: 'rejected',
        errorCode: GwCode.REQUEST_CHANGED,
      });
    });
  });

  describe('get and list', () => {
    it('shows a request to its requester, its approvers and auditors, and to nobody else', async () => {
      const made = await requested();
      for (const reader of [alice, bob, auditor]) {
        expect(await service.get(reader, made.id)).toEqual(made);
      }
      await expect(service.get(dave, made.id)).rejects.toMatchObject({
        errorCode: GwCode.NOT_FOUND,
        status: 404,
      });
    });

    it('lists mine, awaiting my approval, and everything only for auditors', async () => {
      const first = await requested();
      const second = await service.request(dave, change, twoApprovals);
      await service.approve(bob, first.id, null);

      const ids = async (ctx: CallContext, filter: object) =>
        (await service.list(ctx, filter, 50)).requests.map((r) => r.id);
      expect(await ids(alice, { mine: true })).toEqual([first.id]);
      expect(await ids(bob, { awaitingMyApproval: true })).toEqual([second.request.id]);
      expect(await ids(carol, { awaitingMyApproval: true })).toEqual([second.request.id, first.id]);
      expect(await ids(auditor, {})).toEqual([second.request.id, first.id]);
      await expect(service.list(alice, {}, 50)).rejects.toMatchObject({
        errorCode: GwCode.FORBIDDEN,
        status: 403,
      });
    });

    it('pages with an opaque cursor and refuses one it did not issue', async () => {
      const first = await requested();
      const second = await requested();
      const page = await service.list(alice, { mine: true }, 1);
      expect(page.requests.map((r) => r.id)).toEqual([second.id]);
      const next = await service.list(alice, { mine: true }, 1, page.nextCursor ?? undefined);
      expect(next).toEqual({ requests: [first], nextCursor: null });
      await expect(service.list(alice, { mine: true }, 1, 'bm90LWEtdXVpZA')).rejects.toThrow(
        'cursor: is not a cursor this gateway issued',
      );
    });
  });

  describe('the recorder, for background work', () => {
    const scheduler = {
      requestId: randomUUID(),
      correlationId: null,
      channel: 'scheduler' as const,
      principalIss: BACKGROUND_PRINCIPAL.issuer,
      principalSub: BACKGROUND_PRINCIPAL.subject,
      callerAddress: BACKGROUND_PRINCIPAL.callerAddress,
    };

    it('claims under an execute row it leaves open, and points the request at that row', async () => {
      const { request: due } = await service.request(alice, change, {
        ...twoApprovals,
        approvalsRequired: 0,
      });
      clock.advance(600);
      const recorder = new LockRequestRecorder(store, audit, clock, notifier, new GatewayMetrics());
      const { request, auditId } = await recorder.transition(due, {
        action: 'execute',
        party: scheduler,
        keepOpen: true,
        apply: (current) =>
          claimLockRequest(
            current,
            { executor: 'replica-1', claimUntil: new Date(clock.nowMs() + 60_000) },
            clock.now(),
          ),
      });

      expect(request).toMatchObject({
        state: 'EXECUTING',
        executor: 'replica-1',
        executionAuditId: auditId,
      });
      expect(await store.get(due.id)).toEqual(request);
      expect((await rowsOf(due.id))[1]).toMatchObject({
        id: auditId,
        action: 'execute',
        channel: 'scheduler',
        principalIss: 'vault-lock-gateway',
        principalSub: 'scheduler',
        callerAddress: '-',
        outcome: null,
      });
      expect(notifier.events.at(-1)?.event).toBe('lock_request.executing');
    });
  });
});
