import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditAttempt, AuditCompletion } from '../audit/audit-record.js';
import { AuditTrail } from '../audit/audit-trail.js';
import type { AuthConfig } from '../auth/auth.config.js';
import { LockRequestRecorder } from '../lock-requests/lock-request-recorder.js';
import { LockRequestsService } from '../lock-requests/lock-requests.service.js';
import { NoWebhookLockRequestNotifier } from '../notifications/lock-request-notifier.js';
import { SqliteLockRequestStore } from '../lock-requests/sqlite-lock-request-store.js';
import { Principal } from '../domain/principal.js';
import type { CallContext } from '../common/call-context.js';
import { ManualClock } from '../common/testing/manual-clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { PolicyEvaluator } from '../policy/policy-evaluator.js';
import { PolicyStore } from '../policy/policy-store.js';
import { PolicyAdmission } from '../policy/policy-admission.js';
import { ServiceAccount } from '../auth/iam/iam.config.js';
import { INSTANCES, type FixtureInstance } from '../simulator/fixtures.js';
import { FixtureTaurusDb } from '../taurusdb/testing/fixture-taurusdb.js';
import type { InstanceRef, LockChange, TaurusDbCaller } from '../taurusdb/taurusdb.js';
import type {
  InstanceDetails,
  SetVaultLockResult,
  VaultLockInfo,
} from '../taurusdb/taurusdb.types.js';
import { UpstreamError } from '../taurusdb/upstream-error.js';
import type { AuditReads } from './vault-lock.config.js';
import { VaultLockService, type SetVaultLockCommand } from './vault-lock.service.js';
import { Tracing } from '../tracing/tracing.js';

type Row = AuditAttempt & Partial<AuditCompletion> & { id: string; sealed: boolean };

/** What happened, in order, across the audit trail and TaurusDB. */
type Journal = string[];

/**
 * The audit trail in memory: the writes the use case makes, or a store that refuses them. It has
 * the trail's shape for the three writes the use case makes, and nothing else.
 */
class InMemoryAuditTrail implements Pick<
  AuditTrail,
  'recordAttempt' | 'complete' | 'recordSealed'
> {
  readonly rows = new Map<string, Row>();
  refuseWrites = false;

  constructor(private readonly journal: Journal) {}

  async recordAttempt(attempt: AuditAttempt): Promise<string> {
    return this.write(attempt, undefined);
  }

  async complete(id: string, completion: AuditCompletion): Promise<void> {
    this.refuseIfAsked();
    const row = this.rows.get(id);
    if (!row || row.sealed) throw new Error(`no open row ${id}`);
    this.rows.set(id, { ...row, ...completion, sealed: true });
    this.journal.push(`audit:seal:${completion.outcome}`);
  }

  async recordSealed(attempt: AuditAttempt, completion: AuditCompletion): Promise<string> {
    return this.write(attempt, completion);
  }

  only(): Row {
    expect(this.rows.size).toBe(1);
    return [...this.rows.values()][0];
  }

  private write(attempt: AuditAttempt, completion: AuditCompletion | undefined): string {
    this.refuseIfAsked();
    const id = randomUUID();
    this.rows.set(id, { ...attempt, ...completion, id, sealed: completion !== undefined });
    this.journal.push(completion ? `audit:sealed:${completion.outcome}` : 'audit:attempt');
    return id;
  }

  private refuseIfAsked(): void {
    if (this.refuseWrites) {
      throw new GatewayError(GwCode.AUDIT_UNAVAILABLE, 503, 'audit store unavailable');
    }
  }
}

/** TaurusDB's instances from the simulator's fixtures, each call written in the journal. */
class InMemoryTaurusDb extends FixtureTaurusDb {
  /** The next lock change fails with this, once. */
  failNextChange?: Error;

  constructor(
    private readonly journal: Journal,
    private readonly audit: InMemoryAuditTrail,
  ) {
    super();
  }

  override async instanceDetails(
    caller: TaurusDbCaller,
    ref: InstanceRef,
  ): Promise<InstanceDetails> {
    this.journal.push('taurusdb:instanceDetails');
    return super.instanceDetails(caller, ref);
  }

  override async showLock(caller: TaurusDbCaller, ref: InstanceRef): Promise<VaultLockInfo> {
    this.journal.push(`taurusdb:showLock${this.openRows()}`);
    return super.showLock(caller, ref);
  }

  override async setLock(
    caller: TaurusDbCaller,
    ref: InstanceRef,
    change: LockChange,
  ): Promise<SetVaultLockResult> {
    this.journal.push(`taurusdb:setLock${this.openRows()}`);
    const failure = this.failNextChange;
    this.failNextChange = undefined;
    if (failure) throw failure;
    return super.setLock(caller, ref, change);
  }

  /** How many audit rows are open while the call is made: the attempt must already be there. */
  private openRows(): string {
    const open = [...this.audit.rows.values()].filter((row) => !row.sealed).length;
    return ` (${open} open)`;
  }
}

const contextFor = (groups: string[]): CallContext => ({
  requestId: randomUUID(),
  correlationId: null,
  channel: 'rest',
  principal: new Principal('https://idp.example.test', 'alice', groups, 'raw-internal-jwt'),
  callerAddress: '127.0.0.1',
});

const dba = () => contextFor(['dba']);

const enableOn = (instance: FixtureInstance, changes: Partial<SetVaultLockCommand> = {}) => ({
  projectId: instance.projectId,
  instanceId: instance.id,
  action: 'enable' as const,
  retentionDays: 30,
  dryRun: false,
  ...changes,
});

describe('VaultLockService (decide, record, call)', () => {
  const metrics = new GatewayMetrics();
  const policyStore = new PolicyStore(
    { file: 'config/policy.example.yaml' },
    metrics,
    new PolicyAdmission({
      endpoint: 'http://127.0.0.1:9',
      mode: 'password',
      serviceAccount: new ServiceAccount('sim-domain', 'sim-service', 'sim-password'),
    }),
  );
  let journal: Journal;
  let audit: InMemoryAuditTrail;
  let taurusDb: InMemoryTaurusDb;

  const serviceReading = (auditReads: AuditReads) => {
    const clock = new ManualClock(new Date());
    // No rule of the example policy asks for approvals or a cooling-off, so this store is never
    // opened; deferred changes are the lock requests' specs and e2e suite.
    const lockRequestStore = new SqliteLockRequestStore(join(tmpdir(), 'never-opened.sqlite'));
    const lockRequests = new LockRequestsService(
      lockRequestStore,
      new LockRequestRecorder(
        lockRequestStore,
        audit as unknown as AuditTrail,
        clock,
        new NoWebhookLockRequestNotifier(),
        metrics,
      ),
      taurusDb,
      clock,
      { approvalTtlSeconds: 86_400, executionWindowSeconds: 3_600 },
      { auditorGroup: 'auditor' } as AuthConfig,
    );
    return new VaultLockService(
      taurusDb,
      new PolicyEvaluator(policyStore, metrics, new Tracing()),
      policyStore,
      audit as unknown as AuditTrail,
      clock,
      lockRequests,
      { auditReads },
    );
  };

  beforeAll(() => policyStore.onModuleInit());
  afterAll(() => policyStore.onModuleDestroy());

  beforeEach(() => {
    journal = [];
    audit = new InMemoryAuditTrail(journal);
    taurusDb = new InMemoryTaurusDb(journal, audit);
  });

  it('writes the attempt before the allowed call, then seals it as succeeded', async () => {
    const result = await serviceReading('denied').setLock(dba(), enableOn(INSTANCES.financeProd));

    expect(result).toMatchObject({ result: 'success', decision: { allowed: true } });
    expect(journal).toEqual([
      'taurusdb:instanceDetails',
      'audit:attempt',
      'taurusdb:setLock (1 open)',
      'audit:seal:succeeded',
    ]);
    expect(audit.only()).toMatchObject({
      id: result.auditId,
      sealed: true,
      outcome: 'succeeded',
      upstreamStatus: 200,
      decisionAllowed: true,
      decisionRule: 'finance-dba',
      action: 'enable',
      retentionDays: 30,
      principalSub: 'alice',
      durationMs: expect.any(Number) as number,
    });
    expect(taurusDb.locks.get(INSTANCES.financeProd.id)).toEqual({
      action: 'enable',
      retentionDays: 30,
    });
  });

  it('seals a denied row and makes no call when the policy denies', async () => {
    const denied = serviceReading('denied').setLock(dba(), enableOn(INSTANCES.marketingProd));

    await expect(denied).rejects.toMatchObject({
      errorCode: GwCode.POLICY_DENIED,
      status: 403,
      auditId: expect.any(String) as string,
    });
    expect(journal).toEqual(['taurusdb:instanceDetails', 'audit:sealed:denied']);
    expect(audit.only()).toMatchObject({
      outcome: 'denied',
      errorCode: GwCode.POLICY_DENIED,
      decisionAllowed: false,
      decisionRule: null,
    });
    expect(taurusDb.locks.size).toBe(0);
  });

  it('answers 503 and makes no call when the attempt cannot be recorded', async () => {
    audit.refuseWrites = true;

    const refused = serviceReading('denied').setLock(dba(), enableOn(INSTANCES.financeProd));

    await expect(refused).rejects.toMatchObject({
      errorCode: GwCode.AUDIT_UNAVAILABLE,
      status: 503,
    });
    expect(journal).toEqual(['taurusdb:instanceDetails']);
    expect(taurusDb.locks.size).toBe(0);
  });

  it('seals the row as unknown when TaurusDB may have applied the change', async () => {
    taurusDb.failNextChange = new UpstreamError(
      GwCode.UPSTREAM_TIMEOUT,
      504,
      'TaurusDB did not answer in time',
      { outcomeUncertain: true },
    );

    const uncertain = serviceReading('denied').setLock(dba(), enableOn(INSTANCES.financeProd));

    await expect(uncertain).rejects.toMatchObject({ errorCode: GwCode.UPSTREAM_TIMEOUT });
    expect(journal).toEqual([
      'taurusdb:instanceDetails',
      'audit:attempt',
      'taurusdb:setLock (1 open)',
      'audit:seal:unknown',
    ]);
    expect(audit.only()).toMatchObject({ outcome: 'unknown', errorCode: GwCode.UPSTREAM_TIMEOUT });
  });

  it('answers each caller with its own row when concurrent calls fail with one shared error', async () => {
    // A lookup shared by concurrent requests rejects all of them with the same object.
    const shared = new UpstreamError(GwCode.UPSTREAM_UNAVAILABLE, 503, 'TaurusDB is unreachable', {
      outcomeUncertain: false,
    });
    taurusDb.instanceDetails = () => Promise.reject(shared);
    const service = serviceReading('denied');

    const failures = await Promise.all(
      [dba(), dba()].map((ctx) =>
        service.setLock(ctx, enableOn(INSTANCES.financeProd)).catch((error: unknown) => error),
      ),
    );

    const rows = [...audit.rows.keys()];
    expect(rows).toHaveLength(2);
    expect(failures.map((f) => (f as GatewayError).auditId).sort()).toEqual([...rows].sort());
    expect(failures.every((f) => f instanceof UpstreamError && f !== shared)).toBe(true);
    for (const failure of failures as UpstreamError[]) {
      expect(failure).toMatchObject({
        message: shared.message,
        status: 503,
        outcomeUncertain: false,
      });
      expect(failure.stack).toBe(shared.stack);
    }
    expect(shared.auditId).toBeUndefined();
  });

  it('seals the row as rejected when TaurusDB refuses the change', async () => {
    taurusDb.failNextChange = new UpstreamError(GwCode.UPSTREAM_ERROR, 409, 'lock is older', {
      upstreamStatus: 409,
      outcomeUncertain: false,
    });

    const refused = serviceReading('denied').setLock(dba(), enableOn(INSTANCES.financeProd));

    await expect(refused).rejects.toMatchObject({ status: 409 });
    expect(audit.only()).toMatchObject({ outcome: 'rejected', upstreamStatus: 409 });
  });

  it('runs beforeSend after the attempt row and before the call; a throw there seals the row and sends nothing', async () => {
    const lost = new GatewayError(GwCode.CLAIM_TOO_SHORT, 503, 'claim lost');
    const beforeSend = async () => {
      journal.push('beforeSend');
      throw lost;
    };

    const stopped = serviceReading('denied').setLock(dba(), enableOn(INSTANCES.financeProd), {
      beforeSend,
    });

    await expect(stopped).rejects.toMatchObject({ errorCode: GwCode.CLAIM_TOO_SHORT });
    expect(journal).toEqual([
      'taurusdb:instanceDetails',
      'audit:attempt',
      'beforeSend',
      'audit:seal:failed',
    ]);
    expect(audit.only()).toMatchObject({ outcome: 'failed', errorCode: GwCode.CLAIM_TOO_SHORT });
    expect(taurusDb.locks.size).toBe(0);
  });

  it('records a dry run as a sealed row and makes no call', async () => {
    const result = await serviceReading('denied').setLock(
      dba(),
      enableOn(INSTANCES.financeProd, { dryRun: true }),
    );

    expect(result.result).toBe('dry-run');
    expect(journal).toEqual(['taurusdb:instanceDetails', 'audit:sealed:succeeded']);
    expect(audit.only()).toMatchObject({ id: result.auditId, dryRun: true, outcome: 'succeeded' });
    expect(taurusDb.locks.size).toBe(0);
  });

  it('denies from the caller alone without looking the instance up', async () => {
    const stranger = contextFor(['nobody']);

    const denied = serviceReading('denied').setLock(stranger, enableOn(INSTANCES.financeProd));

    await expect(denied).rejects.toMatchObject({ errorCode: GwCode.POLICY_DENIED });
    expect(journal).toEqual(['audit:sealed:denied']);
  });

  describe('reads (show), audited per AUDIT_READS', () => {
    const target = {
      projectId: INSTANCES.financeProd.projectId,
      instanceId: INSTANCES.financeProd.id,
    };
    const denied = {
      projectId: INSTANCES.marketingProd.projectId,
      instanceId: INSTANCES.marketingProd.id,
    };

    it('denied: an allowed read leaves no row, a refused one a sealed denied row', async () => {
      const service = serviceReading('denied');

      const state = await service.showLock(dba(), target);
      await expect(service.showLock(dba(), denied)).rejects.toMatchObject({
        errorCode: GwCode.POLICY_DENIED,
      });

      expect(state).toMatchObject({ enabled: false, auditId: undefined });
      expect(journal).toEqual([
        'taurusdb:instanceDetails',
        'taurusdb:showLock (0 open)',
        'taurusdb:instanceDetails',
        'audit:sealed:denied',
      ]);
      expect(audit.only()).toMatchObject({ action: 'show', outcome: 'denied' });
    });

    it('all: the read is recorded before TaurusDB is asked, then sealed', async () => {
      const state = await serviceReading('all').showLock(dba(), target);

      expect(journal).toEqual([
        'taurusdb:instanceDetails',
        'audit:attempt',
        'taurusdb:showLock (1 open)',
        'audit:seal:succeeded',
      ]);
      expect(audit.only()).toMatchObject({
        id: state.auditId,
        action: 'show',
        retentionDays: null,
        outcome: 'succeeded',
      });
    });

    it('none: not even a refused read leaves a row', async () => {
      const service = serviceReading('none');

      await service.showLock(dba(), target);
      await expect(service.showLock(dba(), denied)).rejects.toMatchObject({
        errorCode: GwCode.POLICY_DENIED,
        auditId: undefined,
      });

      expect(audit.rows.size).toBe(0);
    });

    it('reports the lock TaurusDB holds', async () => {
      const service = serviceReading('denied');
      await service.setLock(dba(), enableOn(INSTANCES.financeProd, { retentionDays: 90 }));

      const state = await service.showLock(dba(), target);

      expect(state).toMatchObject({ enabled: true, retentionDays: 90, startsAt: new Date(1) });
    });
  });
});
