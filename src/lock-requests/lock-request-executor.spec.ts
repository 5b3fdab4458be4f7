import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../audit/audit-record.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import { AuditStoreDir } from '../audit/testing/audit-fixtures.js';
import { ServiceAccount } from '../auth/iam/iam.config.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { ManualClock } from '../common/testing/manual-clock.js';
import type { LockRequest } from '../domain/lock-request.js';
import {
  LockRequestNotifier,
  type LockRequestEvent,
} from '../notifications/lock-request-notifier.js';
import { PolicyAdmission } from '../policy/policy-admission.js';
import { PolicyEvaluator } from '../policy/policy-evaluator.js';
import { PolicyStore } from '../policy/policy-store.js';
import { INSTANCES } from '../simulator/fixtures.js';
import type { InstanceRef, SendDeadline, TaurusDbCaller } from '../taurusdb/taurusdb.js';
import type { VaultLockInfo } from '../taurusdb/taurusdb.types.js';
import { FixtureTaurusDb } from '../taurusdb/testing/fixture-taurusdb.js';
import { LockRequestExecutor } from './lock-request-executor.js';
import { LockRequestRecorder } from './lock-request-recorder.js';
import { approveLockRequest, createLockRequest } from './lock-request-transitions.js';
import { UNDECIDED_REREAD_MS } from './lock-evidence.js';
import { LostAnswerSettler } from './lost-answer-settler.js';
import { SqliteLockRequestStore } from './sqlite-lock-request-store.js';
import { Tracing } from '../tracing/tracing.js';

const T0 = new Date('2026-11-30T02:00:00.000Z');
const UPSTREAM_TIMEOUT_MS = 1_000;
const CONFIG = {
  approvalTtlSeconds: 86_400,
  executionWindowSeconds: 3_600,
  pollIntervalSeconds: 1,
};
/** What the executor derives from the settings above. */
const CLAIM_SECONDS = (8 * UPSTREAM_TIMEOUT_MS) / 1000 + CONFIG.pollIntervalSeconds;
const GRACE_SECONDS = (2 * UPSTREAM_TIMEOUT_MS) / 1000;

const TARGET = INSTANCES.financeProd;

function policyWith(rule: { actions?: string[]; approverGroups?: string[] } = {}) {
  return JSON.stringify({
    version: 1,
    rules: [
      {
        id: 'finance-approved',
        groups: ['dba'],
        projects: ['*'],
        enterpriseProjects: ['*'],
        tags: {},
        actions: rule.actions ?? ['enable', 'extend'],
        approval: { required: 2, approverGroups: rule.approverGroups ?? ['dba-leads'] },
        coolingOff: '10m',
      },
    ],
  });
}

/** TaurusDB over the fixtures, counting PUTs; `duringLockRead` runs inside each lock read. */
class CountingTaurusDb extends FixtureTaurusDb {
  puts = 0;
  duringLockRead: () => void = () => undefined;

  override async showLock(caller: TaurusDbCaller, ref: InstanceRef): Promise<VaultLockInfo> {
    this.duringLockRead();
    return super.showLock(caller, ref);
  }

  override async setLock(...args: Parameters<FixtureTaurusDb['setLock']>) {
    this.puts += 1;
    return super.setLock(...args);
  }
}

/** Keeps what subscribers would hear: each event's name and the request's reason. */
class RecordingNotifier extends LockRequestNotifier {
  readonly heard: [string, string | null][] = [];

  notify(event: LockRequestEvent): void {
    this.heard.push([event.event, event.lockRequest.reason]);
  }
}

describe('LockRequestExecutor (claim, decide again, PUT once, settle)', () => {
  let dir: AuditStoreDir;
  let audit: AuditTrail;
  let store: SqliteLockRequestStore;
  let clock: ManualClock;
  let taurusDb: CountingTaurusDb;
  let policyFile: string;
  let policyStore: PolicyStore;
  let executor: LockRequestExecutor;
  let notifier: RecordingNotifier;

  beforeEach(async () => {
    dir = new AuditStoreDir();
    clock = new ManualClock(T0);
    const metrics = new GatewayMetrics();
    audit = await dir.start(dir.file(), metrics, clock);
    store = new SqliteLockRequestStore(dir.file());
    await store.open();
    taurusDb = new CountingTaurusDb();
    policyFile = join(mkdtempSync(join(tmpdir(), 'vlg-executor-')), 'policy.json');
    writeFileSync(policyFile, policyWith());
    policyStore = new PolicyStore(
      { file: policyFile },
      metrics,
      new PolicyAdmission({
        endpoint: 'http://127.0.0.1:9',
        mode: 'password',
        serviceAccount: new ServiceAccount('sim-domain', 'sim-service', 'sim-password'),
      }),
    );
    await policyStore.onModuleInit();
    notifier = new RecordingNotifier();
    const recorder = new LockRequestRecorder(store, audit, clock, notifier, metrics);
    executor = new LockRequestExecutor(
      store,
      recorder,
      new LostAnswerSettler(audit, taurusDb, clock, new Tracing()),
      taurusDb,
      new PolicyEvaluator(policyStore, metrics, new Tracing()),
      clock,
      CONFIG,
      { timeoutMs: UPSTREAM_TIMEOUT_MS },
      new Tracing(),
    );
  });

  afterEach(async () => {
    await policyStore.onModuleDestroy();
    await store.close();
    await dir.cleanup();
  });

  /** A request the policy above allows, approved by two leads, due once its cooling-off is over. */
  async function approvedAndDue(): Promise<LockRequest> {
    let request = createLockRequest(
      {
        id: '019ad1e2-7c3b-7a10-8f2e-5b6c7d8e9f01',
        projectId: TARGET.projectId,
        instanceId: TARGET.id,
        action: 'enable',
        retentionDays: 30,
        requesterIss: 'https://idp.example.test',
        requesterSub: 'alice',
        requesterGroups: ['dba'],
        ruleId: 'finance-approved',
        policyVersion: policyStore.current().version,
        approvalsRequired: 2,
        approverGroups: ['dba-leads'],
        coolingOffSeconds: 600,
        lockAtRequest: { enabled: false, retentionDays: null, endsAtMs: null },
      },
      clock.now(),
      CONFIG,
    );
    for (const sub of ['bob', 'carol']) {
      const lead = { iss: 'https://idp.example.test', sub, groups: ['dba-leads'] };
      const next = approveLockRequest(request, lead, null, clock.now(), CONFIG);
      if (!next.ok) throw new Error(next.refusal.message);
      request = next.request;
    }
    await store.insert(request);
    clock.advance(600);
    return request;
  }

  const rowsOf = async (id: string): Promise<AuditEvent[]> =>
    (await audit.list({ lockRequestId: id }, 100)).events.reverse();

  async function reloadPolicy(text: string): Promise<void> {
    const before = policyStore.current().version;
    writeFileSync(policyFile, text);
    // The file watch may have put it in force first; either way the new policy is current.
    await policyStore.reload();
    expect(policyStore.current().version).not.toBe(before);
  }

  it('sends the PUT once for an approved, due request, with its execute row sealed', async () => {
    const request = await approvedAndDue();

    await executor.runPass();
    await executor.runPass();

    expect(await store.get(request.id)).toMatchObject({ state: 'SUCCEEDED' });
    expect(taurusDb.puts).toBe(1);
    expect((await rowsOf(request.id)).map((row) => [row.action, row.outcome])).toEqual([
      ['execute', 'succeeded'],
    ]);
  });

  it.each([
    ['no longer allows the change', policyWith({ actions: ['extend'] }), /no longer allows it/],
    [
      'names other approver groups',
      policyWith({ approverGroups: ['security'] }),
      /names security approver group\(s\), not dba-leads as approved/,
    ],
  ])('voids without a PUT a request whose policy now %s', async (_what, policy, reason) => {
    const request = await approvedAndDue();
    await reloadPolicy(policy);

    await executor.runPass();

    const voided = await store.get(request.id);
    expect(voided).toMatchObject({ state: 'VOIDED', reason: expect.stringMatching(reason) });
    expect(taurusDb.puts).toBe(0);
    expect(
      (await rowsOf(request.id)).map((row) => [row.action, row.outcome, row.errorCode]),
    ).toEqual([
      ['execute', 'rejected', 'GW.REQUEST_VOIDED'],
      ['void', 'succeeded', null],
    ]);
  });

  it('sends nothing when the reads before the PUT leave too little of the claim', async () => {
    const request = await approvedAndDue();
    taurusDb.duringLockRead = () => clock.advance(CLAIM_SECONDS - 1);

    await executor.runPass();

    expect(await store.get(request.id)).toMatchObject({ state: 'SCHEDULED', executor: null });
    expect(taurusDb.puts).toBe(0);
    expect(
      (await rowsOf(request.id)).map((row) => [row.action, row.outcome, row.errorCode]),
    ).toEqual([['execute', 'failed', 'GW.CLAIM_TOO_SHORT']]);
  });

  it('sends the PUT only by one deadline before its claim ends, and waits for a pass when the token came later', async () => {
    const request = await approvedAndDue();
    let deadline: SendDeadline | undefined;
    taurusDb.setLock = async (_caller, _ref, _change, sendBy) => {
      deadline = sendBy;
      // As the port answers when the IAM token is in hand only past the deadline.
      throw new GatewayError(GwCode.CLAIM_TOO_SHORT, 503, 'the IAM token came too late');
    };
    const claimedAtMs = clock.nowMs();

    await executor.runPass();

    expect(deadline).toEqual({
      sendByMs: claimedAtMs + CLAIM_SECONDS * 1000 - UPSTREAM_TIMEOUT_MS,
    });
    expect(await store.get(request.id)).toMatchObject({ state: 'SCHEDULED', executor: null });
    expect(
      (await rowsOf(request.id)).map((row) => [row.action, row.outcome, row.errorCode]),
    ).toEqual([['execute', 'failed', 'GW.CLAIM_TOO_SHORT']]);
  });

  /** A due request whose executor stops once its PUT is sent, left EXECUTING past its claim. */
  async function abandonedExecution(): Promise<LockRequest> {
    const request = await approvedAndDue();
    let putWasSent!: () => void;
    const putSent = new Promise<void>((resolve) => (putWasSent = resolve));
    taurusDb.setLock = async () => {
      taurusDb.puts += 1;
      putWasSent();
      // The replica stops here: nothing comes back, and the request stays EXECUTING.
      return new Promise(() => undefined);
    };
    void executor.runPass();
    await putSent;
    expect(await store.get(request.id)).toMatchObject({ state: 'EXECUTING' });
    clock.advance(CLAIM_SECONDS + 1);
    return request;
  }

  it('makes an execution past its claim UNKNOWN, and settles it from the lock only after the grace', async () => {
    const request = await abandonedExecution();
    await executor.runPass();
    expect(await store.get(request.id)).toMatchObject({ state: 'UNKNOWN' });

    await executor.runPass();
    expect(await store.get(request.id)).toMatchObject({ state: 'UNKNOWN' });

    clock.advance(GRACE_SECONDS);
    await executor.runPass();
    const settled = await store.get(request.id);
    expect(settled).toMatchObject({
      state: 'FAILED',
      reason: 'the lock is off, so the change was not applied',
    });
    expect(taurusDb.puts).toBe(1);
    const settle = (await rowsOf(request.id)).find((row) => row.action === 'settle');
    expect(settle).toMatchObject({
      outcome: 'failed',
      settlesAuditId: settled?.executionAuditId,
      decisionReasons: ['the lock is off, so the change was not applied'],
    });
  });

  it('reads an undecided UNKNOWN request again only after a while, and tells subscribers only what changed', async () => {
    const request = await abandonedExecution();
    await executor.runPass();
    // More days than asked: the enable may have applied, or someone else may have locked it.
    let heldDays = 60;
    let reads = 0;
    taurusDb.showLock = async () => {
      reads += 1;
      return {
        backup_vaultlock_info: {
          lock_policy: true,
          lock_retention_days: heldDays,
          lock_end_time: T0.getTime() + heldDays * 86_400_000,
        },
      };
    };
    const undecided = (days: number) =>
      `the lock holds ${days} days, which neither proves nor rules out the enable to 30`;

    clock.advance(GRACE_SECONDS);
    await executor.runPass();
    expect(reads).toBe(1);
    const noted = await store.get(request.id);
    expect(noted).toMatchObject({
      state: 'UNKNOWN',
      reason: undecided(60),
      nextReadingAt: new Date(clock.nowMs() + UNDECIDED_REREAD_MS).toISOString(),
    });

    for (let pass = 0; pass < 5; pass++) {
      clock.advance(GRACE_SECONDS);
      await executor.runPass();
    }
    expect(reads).toBe(1);

    clock.advanceMs(UNDECIDED_REREAD_MS);
    await executor.runPass();
    expect(reads).toBe(2);
    clock.advanceMs(UNDECIDED_REREAD_MS);
    heldDays = 90;
    await executor.runPass();
    expect(reads).toBe(3);
    expect((await store.get(request.id))?.reason).toBe(undecided(90));

    expect(notifier.heard.filter(([event]) => event === 'lock_request.unknown')).toEqual([
      ['lock_request.unknown', 'its executor stopped before TaurusDB answered'],
      ['lock_request.unknown', undecided(60)],
      ['lock_request.unknown', undecided(90)],
    ]);
    expect(taurusDb.puts).toBe(1);
  });

  it('reads a lock that could not be read again after the grace, then after twice as long each time', async () => {
    const request = await abandonedExecution();
    await executor.runPass();
    let reads = 0;
    taurusDb.showLock = async () => {
      reads += 1;
      throw new Error('TaurusDB is unavailable');
    };
    const readsAfter = async (seconds: number) => {
      clock.advance(seconds);
      await executor.runPass();
      return reads;
    };

    expect(await readsAfter(GRACE_SECONDS)).toBe(1);
    expect(await store.get(request.id)).toMatchObject({
      state: 'UNKNOWN',
      reason: 'its executor stopped before TaurusDB answered',
      nextReadingAt: new Date(clock.nowMs() + GRACE_SECONDS * 1000).toISOString(),
    });
    expect(await readsAfter(0)).toBe(1);
    expect(await readsAfter(GRACE_SECONDS)).toBe(2);
    expect(await readsAfter(GRACE_SECONDS)).toBe(2);
    expect(await readsAfter(GRACE_SECONDS)).toBe(3);
    expect(await readsAfter(3 * GRACE_SECONDS)).toBe(3);
    expect(await readsAfter(GRACE_SECONDS)).toBe(4);
    expect(notifier.heard.filter(([event]) => event === 'lock_request.unknown')).toHaveLength(1);
  });
});
