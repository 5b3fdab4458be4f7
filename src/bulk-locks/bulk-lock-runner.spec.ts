import { AuditStoreDir } from '../audit/testing/audit-fixtures.js';
import type { CallContext } from '../common/call-context.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { ManualClock } from '../common/testing/manual-clock.js';
import { ENTERPRISE_PROJECTS, FLEET_INSTANCES } from '../simulator/fixtures.js';
import type { SendDeadline } from '../taurusdb/taurusdb.js';
import { FixtureTaurusDb } from '../taurusdb/testing/fixture-taurusdb.js';
import type {
  SetVaultLockCommand,
  SetVaultLockOptions,
  SetVaultLockResult,
  VaultLockService,
} from '../vault-lock/vault-lock.service.js';
import { BulkLockRunner, CRASHED_ERROR_CODE, UNSETTLED_ERROR_CODE } from './bulk-lock-runner.js';
import { SqliteBulkJobStore } from './sqlite-bulk-job-store.js';
import { aBulkJob, BULK_FIXTURE_NOW, fleetIds, secondsAfter } from './testing/bulk-job-fixtures.js';
import { Tracing } from '../tracing/tracing.js';
import { UpstreamError } from '../taurusdb/upstream-error.js';

/**
 * The single call's use case as the runner sees it: answers by enterprise project, on demand.
 * An allowed change runs the runner's `beforeSend` where the real one would send the PUT.
 */
class FakeVaultLocks {
  readonly calls: { ctx: CallContext; command: SetVaultLockCommand }[] = [];
  /** Instances whose change got past `beforeSend`: the ones that would have been sent. */
  readonly sent: string[] = [];
  /** What `beforeSend` answered for each: the moment past which its PUT must not go out. */
  readonly deadlines: (SendDeadline | undefined)[] = [];
  /** Runs after the attempt row would be written, before `beforeSend`. */
  onAttemptWritten: (command: SetVaultLockCommand) => Promise<void> = async () => undefined;
  /** Runs where the PUT would have been sent; a throw is how the PUT answered. */
  onSent: (command: SetVaultLockCommand) => Promise<void> = async () => undefined;
  running = 0;
  mostAtOnce = 0;

  async setLock(
    ctx: CallContext,
    command: SetVaultLockCommand,
    options: SetVaultLockOptions = {},
  ): Promise<SetVaultLockResult> {
    this.calls.push({ ctx, command });
    this.running += 1;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    await new Promise((resolve) => setImmediate(resolve));
    this.running -= 1;
    const instance = FLEET_INSTANCES.find((i) => i.id === command.instanceId);
    if (instance?.enterpriseProjectId === ENTERPRISE_PROJECTS.finance && !command.dryRun) {
      await this.onAttemptWritten(command);
      this.deadlines.push(await options.beforeSend?.());
      this.sent.push(command.instanceId);
      await this.onSent(command);
    }
    const decision = {
      allowed: true,
      ruleId: 'r',
      reasons: [],
      policyVersion: 'v',
      explanation: '',
      approvalsRequired: 0,
      approverGroups: [],
      coolingOffSeconds: 0,
    };
    const answer = { requestId: ctx.requestId, auditId: `audit-${command.instanceId}`, decision };
    switch (instance?.enterpriseProjectId) {
      case ENTERPRISE_PROJECTS.finance:
        return { ...answer, result: command.dryRun ? 'dry-run' : 'success' };
      case ENTERPRISE_PROJECTS.default:
        return {
          ...answer,
          result: 'pending-approval',
          lockRequest: {
            id: `lr-${command.instanceId}`,
            state: 'PENDING_APPROVAL',
            notBefore: null,
            expiresAt: BULK_FIXTURE_NOW,
          },
        };
      case ENTERPRISE_PROJECTS.marketing:
        throw new GatewayError(GwCode.POLICY_DENIED, 403, 'policy denied', {
          auditId: `audit-${command.instanceId}`,
        });
      default:
        throw new GatewayError(GwCode.UPSTREAM_UNAVAILABLE, 503, 'down');
    }
  }
}

describe('BulkLockRunner', () => {
  let dir: AuditStoreDir;
  let store: SqliteBulkJobStore;
  let vaultLocks: FakeVaultLocks;
  let taurusDb: FixtureTaurusDb;
  let clock: ManualClock;

  const runner = (concurrency = 2) =>
    new BulkLockRunner(
      store,
      vaultLocks as unknown as VaultLockService,
      taurusDb,
      clock,
      { concurrency },
      { approvalTtlSeconds: 60, executionWindowSeconds: 60, pollIntervalSeconds: 1 },
      { timeoutMs: 1000 } as never,
      new Tracing(),
    );

  beforeEach(async () => {
    dir = new AuditStoreDir();
    store = new SqliteBulkJobStore(dir.file());
    await store.open();
    vaultLocks = new FakeVaultLocks();
    taurusDb = new FixtureTaurusDb();
    clock = new ManualClock(new Date(BULK_FIXTURE_NOW));
  });

  afterEach(async () => {
    await store.close();
    await dir.cleanup();
  });

  it("runs every item through the single call's use case, as the creator with the service identity, each to its own end", async () => {
    const job = await store.create(aBulkJob({ creatorGroups: ['dba', 'ops'] }), fleetIds(8));
    const r = runner();

    await r.runPass();
    await r.idle();

    expect(vaultLocks.calls.map((c) => c.command.instanceId)).toEqual(fleetIds(8));
    for (const { ctx, command } of vaultLocks.calls) {
      expect(ctx).toMatchObject({
        identity: 'service',
        correlationId: job.requestId,
        channel: 'graphql',
        callerAddress: '127.0.0.1',
      });
      expect(ctx.principal).toMatchObject({ subject: 'alice', groups: ['dba', 'ops'] });
      expect(ctx.principal.rawToken()).toBe('');
      expect(command).toEqual({
        projectId: job.projectId,
        instanceId: command.instanceId,
        action: 'enable',
        retentionDays: 30,
        dryRun: false,
      });
    }
    const [finance, fallback, marketing, research] = await store.items(job.id);
    expect(finance).toMatchObject({
      state: 'SUCCEEDED',
      result: 'success',
      auditId: `audit-${finance.instanceId}`,
    });
    expect(fallback).toMatchObject({
      state: 'PENDING_APPROVAL',
      lockRequestId: `lr-${fallback.instanceId}`,
    });
    expect(marketing).toMatchObject({
      state: 'DENIED',
      errorCode: GwCode.POLICY_DENIED,
      auditId: `audit-${marketing.instanceId}`,
    });
    expect(research).toMatchObject({ state: 'FAILED', errorCode: GwCode.UPSTREAM_UNAVAILABLE });
    expect(await store.get(job.id)).toMatchObject({ state: 'FINISHED', done: 8 });
  });

  it('never runs more items of a job at once than its concurrency, across two runners', async () => {
    const job = await store.create(aBulkJob(), fleetIds(20));
    const [a, b] = [runner(3), runner(3)];

    await Promise.all([a.runPass(), b.runPass()]);
    await Promise.all([a.idle(), b.idle(), a.runPass(), b.runPass()]);
    await Promise.all([a.idle(), b.idle()]);

    expect(vaultLocks.mostAtOnce).toBeLessThanOrEqual(3);
    expect(vaultLocks.mostAtOnce).toBeGreaterThan(1);
    expect(vaultLocks.calls.map((c) => c.command.instanceId).sort()).toEqual(fleetIds(20).sort());
    expect(await store.get(job.id)).toMatchObject({ state: 'FINISHED', done: 20 });
  });

  it("settles a dead runner's sent items by reading their locks once the claim and a grace ran out, and runs its unsent one at once", async () => {
    const job = await store.create(aBulkJob(), fleetIds(3));
    const [applied, refused, unsent] = fleetIds(3);
    const off = { enabled: false, retentionDays: null, endsAtMs: null };
    for (const [slot, instanceId] of [applied, refused, unsent].entries()) {
      await store.claimNext(job.id, { holder: 'dead', slot, until: BULK_FIXTURE_NOW });
      if (instanceId !== unsent) await store.keepLockBefore(job.id, instanceId, 'dead', off);
    }
    taurusDb.locks.set(applied, { action: 'enable', retentionDays: 30 });
    const r = runner(3);

    await r.runPass();
    expect(taurusDb.calls.showLock).toBe(0);
    clock.current = new Date(Date.parse(BULK_FIXTURE_NOW) + 1);
    await r.runPass();
    await r.idle();
    // A change that may have been sent is left two upstream deadlines (1 s each) to land.
    const waiting = (await store.items(job.id)).filter((i) => i.state === 'RUNNING');
    expect(waiting.map((i) => i.instanceId).sort()).toEqual([applied, refused].sort());
    clock.current = new Date(Date.parse(BULK_FIXTURE_NOW) + 2_001);
    await r.runPass();
    await r.idle();
    await r.runPass();

    expect(vaultLocks.calls.map((c) => c.command.instanceId)).toEqual([unsent]);
    const items = await store.items(job.id);
    expect(items.find((i) => i.instanceId === applied)).toMatchObject({
      state: 'SUCCEEDED',
      result: 'success',
    });
    expect(items.find((i) => i.instanceId === refused)).toMatchObject({
      state: 'FAILED',
      errorCode: CRASHED_ERROR_CODE,
    });
    expect(items.find((i) => i.instanceId === unsent)).toMatchObject({
      state: 'DENIED',
      lockBefore: off,
    });
    expect(await store.get(job.id)).toMatchObject({ state: 'FINISHED' });
  });

  it('settles an item whose PUT may have been applied by reading its lock after the grace, and never sends it again', async () => {
    const job = await store.create(aBulkJob(), fleetIds(8));
    const [applied, refused] = fleetIds(8).filter(
      (id) =>
        FLEET_INSTANCES.find((i) => i.id === id)?.enterpriseProjectId ===
        ENTERPRISE_PROJECTS.finance,
    );
    vaultLocks.onSent = async ({ instanceId }) => {
      if (instanceId !== applied && instanceId !== refused) return;
      // The PUT went out; its answer did not come back in time.
      if (instanceId === applied)
        taurusDb.locks.set(applied, { action: 'enable', retentionDays: 30 });
      throw new UpstreamError(GwCode.UPSTREAM_TIMEOUT, 504, 'TaurusDB did not answer in time', {
        outcomeUncertain: true,
      }).withAuditId(`audit-${instanceId}`);
    };
    const r = runner(2);

    await r.runPass();
    await r.idle();
    await r.runPass();
    await r.idle();
    const left = (await store.items(job.id)).filter((i) => i.state === 'RUNNING');
    expect(left.map((i) => i.instanceId).sort()).toEqual([applied, refused].sort());
    expect(left.find((i) => i.instanceId === refused)).toMatchObject({
      errorCode: GwCode.UPSTREAM_TIMEOUT,
      auditId: `audit-${refused}`,
    });
    expect((await store.get(job.id))?.state).toBe('RUNNING');

    // Two upstream deadlines (1 s each) after the PUT answered, the locks are read; not before.
    const reads = taurusDb.calls.showLock;
    clock.current = new Date(Date.parse(BULK_FIXTURE_NOW) + 2_000);
    await r.runPass();
    await r.idle();
    expect(taurusDb.calls.showLock).toBe(reads);
    expect((await store.items(job.id)).filter((i) => i.state === 'RUNNING')).toHaveLength(2);
    clock.current = new Date(Date.parse(BULK_FIXTURE_NOW) + 2_001);
    // Settling frees the slots: the next passes run the rest of the job in them.
    for (let pass = 0; pass < 3; pass++) {
      await r.runPass();
      await r.idle();
    }

    const items = await store.items(job.id);
    expect(items.find((i) => i.instanceId === applied)).toMatchObject({
      state: 'SUCCEEDED',
      result: 'success',
      errorCode: null,
      auditId: `audit-${applied}`,
    });
    expect(items.find((i) => i.instanceId === refused)).toMatchObject({
      state: 'FAILED',
      errorCode: GwCode.UPSTREAM_TIMEOUT,
      auditId: `audit-${refused}`,
    });
    expect(vaultLocks.sent.filter((id) => id === applied || id === refused)).toHaveLength(2);
    expect(await store.get(job.id)).toMatchObject({ state: 'FINISHED', done: 8 });
  });

  it('reads the lock of an item left to be settled again later while it cannot be read, and ends it unsettled once TaurusDB says its instance is gone', async () => {
    const job = await store.create(aBulkJob(), fleetIds(3));
    const [unreadable, gone, unknownPath] = fleetIds(3);
    const off = { enabled: false, retentionDays: null, endsAtMs: null };
    for (const [slot, instanceId] of [unreadable, gone, unknownPath].entries()) {
      await store.claimNext(job.id, { holder: 'lane', slot, until: secondsAfter(60) });
      await store.keepLockBefore(job.id, instanceId, 'lane', off);
      const failure = { errorCode: GwCode.UPSTREAM_TIMEOUT, auditId: `audit-${instanceId}` };
      await store.leaveUnsettled(job.id, instanceId, 'lane', failure, BULK_FIXTURE_NOW);
    }
    taurusDb.lockReadFailures.set(
      unreadable,
      new UpstreamError(GwCode.UPSTREAM_UNAVAILABLE, 503, 'down', { outcomeUncertain: false }),
    );
    taurusDb.lockReadFailures.set(
      gone,
      new UpstreamError('DBS.200823', 404, 'The DB instance does not exist.', {
        upstreamStatus: 404,
        outcomeUncertain: false,
      }),
    );
    // Huawei's API gateway knows no such path: a setting to fix, not a missing instance.
    taurusDb.lockReadFailures.set(
      unknownPath,
      new UpstreamError('APIGW.0101', 404, 'The API does not exist', {
        upstreamStatus: 404,
        outcomeUncertain: false,
      }),
    );
    const r = runner(3);

    clock.current = new Date(Date.parse(BULK_FIXTURE_NOW) + 2_001);
    await r.runPass();
    await r.idle();
    const items = await store.items(job.id);
    expect(items.find((i) => i.instanceId === gone)).toMatchObject({
      state: 'FAILED',
      errorCode: UNSETTLED_ERROR_CODE,
      auditId: `audit-${gone}`,
    });
    for (const instanceId of [unreadable, unknownPath]) {
      const waiting = items.find((i) => i.instanceId === instanceId);
      expect(waiting).toMatchObject({ state: 'RUNNING', errorCode: GwCode.UPSTREAM_TIMEOUT });
      expect(waiting?.holder).not.toBe('lane');
    }
    const waiting = items.find((i) => i.instanceId === unreadable);

    // Taken over again once the new claim (four deadlines and a pass) and the grace ran out.
    taurusDb.lockReadFailures.delete(unreadable);
    taurusDb.lockReadFailures.delete(unknownPath);
    clock.current = new Date(Date.parse(waiting!.claimUntil!) + 2_001);
    await r.runPass();
    await r.idle();
    for (const instanceId of [unreadable, unknownPath]) {
      expect((await store.items(job.id)).find((i) => i.instanceId === instanceId)).toMatchObject({
        state: 'FAILED',
        errorCode: GwCode.UPSTREAM_TIMEOUT,
        auditId: `audit-${instanceId}`,
      });
    }
    expect(vaultLocks.calls).toEqual([]);
    expect(await store.get(job.id)).toMatchObject({ state: 'FINISHED', done: 3 });
  });

  it("extends the item's claim by the change's budget just before the change is sent", async () => {
    const job = await store.create(aBulkJob(), fleetIds(1));
    const [finance] = fleetIds(1);
    let claimAtSend: string | null = null;
    vaultLocks.onAttemptWritten = async () => {
      // The reads and the audit row took long: most of the first claim is gone.
      clock.current = new Date(Date.parse(BULK_FIXTURE_NOW) + 4_500);
    };
    const r = runner();
    const extend = store.extendClaim.bind(store);
    store.extendClaim = async (...args) => {
      const extended = await extend(...args);
      claimAtSend = (await store.items(job.id))[0].claimUntil;
      return extended;
    };

    await r.runPass();
    await r.idle();

    expect(vaultLocks.sent).toEqual([finance]);
    // Four upstream deadlines of 1 s and a pass of 1 s, from the moment before the PUT.
    expect(claimAtSend).toBe(new Date(Date.parse(BULK_FIXTURE_NOW) + 4_500 + 5_000).toISOString());
    // The PUT starts one upstream deadline before the claim ends, so it answers within it.
    expect(vaultLocks.deadlines).toEqual([
      { sendByMs: Date.parse(BULK_FIXTURE_NOW) + 4_500 + 5_000 - 1_000 },
    ]);
    expect(await store.items(job.id)).toMatchObject([{ state: 'SUCCEEDED', result: 'success' }]);
  });

  it('sends nothing when another runner took the item over before its change went out', async () => {
    const job = await store.create(aBulkJob(), fleetIds(1));
    vaultLocks.onAttemptWritten = async (command) => {
      const late = new Date(Date.parse(BULK_FIXTURE_NOW) + 60_000);
      clock.current = late;
      const takeover = { holder: 'other', until: new Date(late.getTime() + 60_000).toISOString() };
      expect(
        await store.reclaim(job.id, command.instanceId, takeover, late.toISOString(), 0),
      ).not.toBeNull();
    };
    const r = runner();

    await r.runPass();
    await r.idle();

    expect(vaultLocks.calls).toHaveLength(1);
    expect(vaultLocks.sent).toEqual([]);
    // The other runner holds the item now and settles it by reading its lock.
    expect(await store.items(job.id)).toMatchObject([{ state: 'RUNNING', holder: 'other' }]);
  });

  it('sends once when a pass takes over an item whose lane of the same process stalled past its claim', async () => {
    const job = await store.create(aBulkJob(), fleetIds(1));
    const [finance] = fleetIds(1);
    let answerStalledRead!: () => void;
    const stalled = new Promise<void>((resolve) => (answerStalledRead = resolve));
    const read = taurusDb.showLock.bind(taurusDb);
    let reads = 0;
    taurusDb.showLock = async (...args) => {
      reads += 1;
      if (reads === 1) await stalled;
      return read(...args);
    };
    // As the takeover sends, the stalled lane's read answers and the lane goes on, while the
    // takeover's outcome takes a moment to be stored.
    vaultLocks.onAttemptWritten = async () => answerStalledRead();
    const finish = store.finish.bind(store);
    let finishes = 0;
    store.finish = async (...args) => {
      finishes += 1;
      if (finishes === 1) await new Promise((resolve) => setTimeout(resolve, 50));
      return finish(...args);
    };
    const r = runner(1);

    await r.runPass();
    // The lane hangs in its lock read until its claim (four deadlines of 1 s and a pass) is gone.
    clock.current = new Date(Date.parse(BULK_FIXTURE_NOW) + 6_000);
    await r.runPass();
    await r.idle();

    expect(vaultLocks.sent).toEqual([finance]);
    expect(await store.items(job.id)).toMatchObject([{ state: 'SUCCEEDED', result: 'success' }]);
  });

  it('reaches in one pass the jobs after a page of older ones it cannot finish yet', async () => {
    // Twenty older jobs each hold an item whose runner died mid-change and whose lock cannot be
    // read now: they stay open. The newest job must run all the same.
    const [finance] = fleetIds(1);
    for (let n = 0; n < 20; n++) {
      const stuck = await store.create(aBulkJob(), fleetIds(1));
      await store.claimNext(stuck.id, { holder: 'dead', slot: 0, until: BULK_FIXTURE_NOW });
      await store.keepLockBefore(stuck.id, finance, 'dead', {
        enabled: false,
        retentionDays: null,
        endsAtMs: null,
      });
    }
    // Past their claims and the grace: each pass takes them over, and their lock reads fail.
    clock.current = new Date(Date.parse(BULK_FIXTURE_NOW) + 2_001);
    let lockReads = 0;
    taurusDb.showLock = () => {
      lockReads += 1;
      return Promise.reject(new GatewayError(GwCode.UPSTREAM_UNAVAILABLE, 503, 'down'));
    };
    const newest = await store.create(
      aBulkJob({ dryRun: true, createdAt: secondsAfter(60) }),
      fleetIds(1),
    );
    const r = runner();

    await r.runPass();
    await r.idle();

    expect(lockReads).toBe(20);
    expect((await store.unfinished(30)).map((job) => job.id)).not.toContain(newest.id);
    expect(await store.unfinished(30)).toHaveLength(20);
    expect(await store.get(newest.id)).toMatchObject({ state: 'FINISHED' });
  });

  it('runs at most twenty jobs worth of lanes at once on a replica; the rest wait a pass', async () => {
    const jobs = [];
    for (let n = 0; n < 21; n++) jobs.push(await store.create(aBulkJob(), fleetIds(1)));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    vaultLocks.onAttemptWritten = () => gate;
    const r = runner(1);

    await r.runPass();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const atOnce = vaultLocks.calls.length;
    open();
    await r.idle();
    expect(atOnce).toBe(20);
    await r.runPass();
    await r.idle();

    expect(vaultLocks.calls).toHaveLength(21);
    for (const job of jobs) expect(await store.get(job.id)).toMatchObject({ state: 'FINISHED' });
  });

  it("runs a dead runner's dry-run item again: a dry run sent nothing", async () => {
    const job = await store.create(aBulkJob({ dryRun: true }), fleetIds(1));
    await store.claimNext(job.id, { holder: 'dead', slot: 0, until: BULK_FIXTURE_NOW });
    clock.current = new Date(Date.parse(BULK_FIXTURE_NOW) + 1);
    const r = runner();

    await r.runPass();
    await r.idle();

    expect(taurusDb.calls.showLock).toBe(0);
    expect(await store.items(job.id)).toMatchObject([{ state: 'SUCCEEDED', result: 'dry-run' }]);
  });
});
