import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { describeWithPostgres, TestDatabase } from '../src/audit/testing/postgres-test-database.js';
import { INSTANCES, LOAD_INSTANCES, type FixtureInstance } from '../src/simulator/fixtures.js';
import { WebhookReceiver } from '../src/notifications/testing/webhook-receiver.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/simulator.js';
import {
  freePort,
  gatewayEnvOn,
  startGatewayProcess,
  stop,
  type Launched,
} from './support/child-processes.js';
import { graphql, injectFault, lockBody, lockPath, rest } from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';
import { until } from '../src/common/testing/polling.js';

/**
 * Lock requests executed in the background, end to end through the simulator: approved, then
 * PUT once after the cooling-off with the gateway's own identity; voided when the lock changed
 * after approval; expired; settled by reading the lock when the PUT's answer was lost; and the
 * lost answer of a single call settled the same way. Then two replicas on one database, each
 * due request executed by exactly one of them.
 */
const POLICY = {
  version: 1,
  rules: [
    {
      id: 'prod-four-eyes',
      groups: ['dba'],
      projects: ['*'],
      enterpriseProjects: ['*'],
      tags: { env: ['prod'] },
      actions: ['enable', 'extend'],
      approval: { required: 2, approverGroups: ['dba-leads'] },
      coolingOff: '1s',
    },
    {
      id: 'staging-cooling-off',
      groups: ['dba'],
      projects: ['*'],
      enterpriseProjects: ['*'],
      tags: { env: ['staging'] },
      actions: ['enable', 'extend'],
      coolingOff: '1s',
    },
    {
      id: 'batch-cooling-off',
      groups: ['batch'],
      projects: ['*'],
      enterpriseProjects: ['*'],
      tags: { owner: ['load'] },
      actions: ['enable'],
      coolingOff: '1s',
    },
    {
      id: 'oncall-direct',
      groups: ['oncall'],
      projects: ['*'],
      enterpriseProjects: ['*'],
      tags: {},
      actions: ['enable', 'extend', 'show'],
    },
  ],
};

/**
 * Short enough that a lost answer is settled within seconds (after twice the upstream deadline),
 * long enough that a stall of a busy machine neither times out a call the tests expect to
 * succeed nor lets one in-process replica's lease run out while it lives.
 */
const BACKGROUND_ENV = {
  LOCK_REQUEST_POLL_INTERVAL: '1s',
  UPSTREAM_TIMEOUT_MS: '3000',
  AUDIT_REPLICA_LEASE_SECONDS: '6',
};

const WEBHOOK_SECRET = 'whsec-lock-request-execution-suite-0123456789';

interface RestLockRequest {
  id: string;
  state: string;
  reason: string | null;
  not_before: string | null;
}

interface AuditRow {
  id: string;
  action: string;
  outcome: string;
  channel: string;
  principal_sub: string;
  error_code: string | null;
  decision_reasons: string[];
  lock_request_id: string | null;
  settles_audit_id: string | null;
}

function policyFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vlg-policy-')), 'policy.json');
  writeFileSync(file, JSON.stringify(POLICY));
  return file;
}

/** Where the gateway keeps requests and its trail, made for one run of the suite. */
interface StoreUnderTest {
  env: Record<string, string>;
  drop(): Promise<void>;
}

/** The callers of the suite, minted by the simulator's identity provider. */
interface Callers {
  alice: string;
  bob: string;
  carol: string;
  oncall: string;
  batch: string;
  auditor: string;
}

async function callersOf(h: Harness): Promise<Callers> {
  const mint = (sub: string, groups: string[]) => h.simulator.mintToken({ sub, groups });
  return {
    alice: await mint('alice', ['dba']),
    bob: await mint('bob', ['dba-leads']),
    carol: await mint('carol', ['dba-leads']),
    oncall: await mint('olga', ['oncall']),
    batch: await mint('bert', ['batch']),
    auditor: await mint('audrey', ['auditor']),
  };
}

const put = (
  h: Pick<Harness, 'url'>,
  token: string,
  instance: FixtureInstance,
  days: number,
  action = 'enable',
) =>
  rest(h, 'PUT', lockPath(instance.projectId, instance.id), {
    token,
    body: lockBody(action, days),
  });

async function requested(
  h: Pick<Harness, 'url'>,
  token: string,
  instance: FixtureInstance,
  days: number,
) {
  const answer = await put(h, token, instance, days);
  expect(answer.status).toBe(202);
  return answer.body.lock_request_id as string;
}

const readRequest = async (h: Harness, token: string, id: string) =>
  (await rest<RestLockRequest>(h, 'GET', `/v1/lock-requests/${id}`, { token })).body;

/** Until the request is in one of `states`; its last reading. */
const settledIn = (h: Harness, token: string, id: string, states: string[], limitMs?: number) =>
  until(
    `lock request ${id} to reach ${states.join(' or ')}`,
    async () => {
      const request = await readRequest(h, token, id);
      return states.includes(request.state) ? request : undefined;
    },
    limitMs,
  );

/**
 * The request's audit rows, oldest first, once every row of it is sealed: a change is recorded as row, then state,
 * then seal, so a reader can see the new state a moment before its row's outcome.
 */
async function historyOf(h: Harness, auditor: string, lockRequestId: string): Promise<AuditRow[]> {
  return until(`every audit row of ${lockRequestId} to be sealed`, async () => {
    const answer = await rest<{ events: AuditRow[] }>(
      h,
      'GET',
      `/v1/audit-events?lock_request_id=${lockRequestId}&limit=100`,
      { token: auditor },
    );
    expect(answer.status).toBe(200);
    const rows = [...answer.body.events].reverse();
    return rows.every((row) => row.outcome !== null) ? rows : undefined;
  });
}

async function lockOf(h: Harness, oncall: string, instance: FixtureInstance) {
  const answer = await rest<{ backup_vaultlock_info: Record<string, unknown> }>(
    h,
    'GET',
    lockPath(instance.projectId, instance.id),
    { token: oncall },
  );
  expect(answer.status).toBe(200);
  return answer.body.backup_vaultlock_info;
}

const APPROVE = `mutation Approve($id: ID!) { approveLockRequest(id: $id) { id state } }`;

function describeExecution(storeName: string, makeStore: () => Promise<StoreUnderTest>) {
  describe(`lock request execution (${storeName})`, () => {
    let store: StoreUnderTest;
    let h: Harness;
    let who: Callers;
    let webhook: WebhookReceiver;

    beforeAll(async () => {
      store = await makeStore();
      webhook = await WebhookReceiver.start(WEBHOOK_SECRET);
      h = await startHarness({
        ...store.env,
        ...BACKGROUND_ENV,
        POLICY_FILE: policyFile(),
        NOTIFY_WEBHOOK_URL: webhook.url,
        NOTIFY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      });
      who = await callersOf(h);
    });
    afterAll(async () => {
      await h.close();
      await webhook.close();
      await store.drop();
    });
    beforeEach(() => h.simulator.reset());

    const putCalls = () => h.simulator.calls()['taurusdb.putLock'];

    it('runs an approved request once after its cooling-off, and the trail tells its history in order', async () => {
      const id = await requested(h, who.alice, INSTANCES.financeProd, 30);
      const first = await rest<RestLockRequest>(h, 'POST', `/v1/lock-requests/${id}/approve`, {
        token: who.bob,
        body: { comment: 'ticket checked' },
      });
      expect(first.body.state).toBe('PENDING_APPROVAL');
      const second = await graphql(h, APPROVE, { id }, who.carol);
      expect(second.errors).toBeUndefined();
      expect(second.data?.approveLockRequest).toMatchObject({ state: 'SCHEDULED' });

      const done = await settledIn(h, who.alice, id, ['SUCCEEDED', 'FAILED', 'VOIDED', 'UNKNOWN']);

      expect(done.state).toBe('SUCCEEDED');
      expect(putCalls()).toBe(1);
      expect(await lockOf(h, who.oncall, INSTANCES.financeProd)).toMatchObject({
        lock_policy: true,
        lock_retention_days: 30,
      });
      const history = await historyOf(h, who.auditor, id);
      expect(history.map((row) => [row.action, row.outcome, row.principal_sub])).toEqual([
        ['request', 'succeeded', 'alice'],
        ['approve', 'succeeded', 'bob'],
        ['approve', 'succeeded', 'carol'],
        ['execute', 'succeeded', 'scheduler'],
      ]);
      expect(history[3].channel).toBe('scheduler');
      expect(history.every((row) => row.lock_request_id === id)).toBe(true);

      // Each state change reached the webhook, signed with the shared secret.
      const events = await until('the webhook to hear of the success', async () => {
        const mine = webhook.received.filter(
          (delivery) => (delivery.body.lock_request as { id: string }).id === id,
        );
        return mine.some((delivery) => delivery.body.event === 'lock_request.succeeded')
          ? mine
          : undefined;
      });
      expect(events.map((delivery) => delivery.body.event)).toEqual([
        'lock_request.pending_approval',
        'lock_request.pending_approval',
        'lock_request.scheduled',
        'lock_request.executing',
        'lock_request.succeeded',
      ]);
      expect(events.every((delivery) => delivery.signatureValid)).toBe(true);
    });

    it('runs a request that only waits for its cooling-off, with no approval', async () => {
      const id = await requested(h, who.alice, INSTANCES.financeStaging, 14);
      const done = await settledIn(h, who.alice, id, ['SUCCEEDED', 'FAILED', 'VOIDED', 'UNKNOWN']);

      expect(done.state).toBe('SUCCEEDED');
      expect(putCalls()).toBe(1);
      expect((await historyOf(h, who.auditor, id)).map((row) => row.action)).toEqual([
        'request',
        'execute',
      ]);
    });

    it('voids, without a PUT, a request whose lock changed after it was approved', async () => {
      const id = await requested(h, who.alice, INSTANCES.financeProd, 30);
      // Someone else locks the instance while the request waits.
      expect((await put(h, who.oncall, INSTANCES.financeProd, 7)).status).toBe(200);
      await rest(h, 'POST', `/v1/lock-requests/${id}/approve`, { token: who.bob, body: {} });
      await rest(h, 'POST', `/v1/lock-requests/${id}/approve`, { token: who.carol, body: {} });

      const done = await settledIn(h, who.alice, id, ['SUCCEEDED', 'FAILED', 'VOIDED', 'UNKNOWN']);

      expect(done.state).toBe('VOIDED');
      expect(done.reason).toMatch(/the lock changed .* it was off, it is on for 7 days/);
      expect(putCalls()).toBe(1);
      const history = await historyOf(h, who.auditor, id);
      expect(history.map((row) => [row.action, row.outcome, row.error_code])).toEqual([
        ['request', 'succeeded', null],
        ['approve', 'succeeded', null],
        ['approve', 'succeeded', null],
        ['execute', 'rejected', 'GW.REQUEST_VOIDED'],
        ['void', 'succeeded', null],
      ]);
      expect(history[4].decision_reasons).toEqual([done.reason]);
    });

    it('settles by reading the lock, never by a second PUT, an execution whose answer was lost', async () => {
      await injectFault(h, { route: 'taurusdb.putLock', reset: true, times: 1 });
      const id = await requested(h, who.alice, INSTANCES.financeStaging, 21);

      const done = await settledIn(h, who.alice, id, ['SUCCEEDED', 'FAILED', 'VOIDED']);

      expect(putCalls()).toBe(1);
      // The connection was cut before TaurusDB handled the PUT: the lock, unchanged since the
      // request, proves it failed.
      expect((await lockOf(h, who.oncall, INSTANCES.financeStaging)).lock_policy).toBe(false);
      expect(done.state).toBe('FAILED');
      const history = await historyOf(h, who.auditor, id);
      const execute = history.find((row) => row.action === 'execute');
      const settle = history.find((row) => row.action === 'settle');
      expect(execute).toMatchObject({ outcome: 'unknown' });
      expect(settle).toMatchObject({
        settles_audit_id: execute?.id,
        channel: 'scheduler',
        outcome: 'failed',
      });
      expect(settle?.decision_reasons).toEqual([done.reason]);
      const events = await until('the webhook to hear of the settlement', async () => {
        const names = webhook.received
          .filter((delivery) => (delivery.body.lock_request as { id: string }).id === id)
          .map((delivery) => delivery.body.event);
        return names.includes(`lock_request.${done.state.toLowerCase()}`) ? names : undefined;
      });
      expect(events.slice(-3)).toEqual([
        'lock_request.executing',
        'lock_request.unknown',
        `lock_request.${done.state.toLowerCase()}`,
      ]);
    });

    it('settles the lost answer of a single call with a row naming the unknown one', async () => {
      await injectFault(h, { route: 'taurusdb.putLock', reset: true, times: 1 });
      const instance = INSTANCES.financeStaging;
      const lost = await put(h, who.oncall, instance, 10);
      expect(lost.status).toBeGreaterThanOrEqual(500);
      const unknownRow = lost.headers.get('x-audit-id') as string;

      const settle = await until(
        `a settle row for ${unknownRow}`,
        async () => {
          const answer = await rest<{ events: AuditRow[] }>(
            h,
            'GET',
            `/v1/audit-events?project_id=${instance.projectId}&instance_id=${instance.id}&limit=20`,
            { token: who.auditor },
          );
          return answer.body.events.find((row) => row.settles_audit_id === unknownRow);
        },
        60_000,
      );

      // The connection was cut before TaurusDB handled the PUT: the lock is still off, which
      // proves the enable failed.
      expect((await lockOf(h, who.oncall, instance)).lock_policy).toBe(false);
      expect(settle).toMatchObject({
        action: 'settle',
        outcome: 'failed',
        channel: 'scheduler',
        principal_sub: 'scheduler',
      });
      expect(putCalls()).toBe(1);
    });
  });
}

describeExecution('SQLite', async () => ({ env: {}, drop: async () => undefined }));

describe('lock request deadlines', () => {
  let h: Harness;
  let who: Callers;

  beforeAll(async () => {
    h = await startHarness({ ...BACKGROUND_ENV, APPROVAL_TTL: '2s', POLICY_FILE: policyFile() });
    who = await callersOf(h);
  });
  afterAll(() => h.close());

  it('expires a request not approved within APPROVAL_TTL, after which it cannot be approved', async () => {
    const id = await requested(h, who.alice, INSTANCES.financeProd, 30);

    const done = await settledIn(h, who.alice, id, ['EXPIRED']);
    const late = await rest(h, 'POST', `/v1/lock-requests/${id}/approve`, {
      token: who.bob,
      body: {},
    });

    expect(done.reason).toMatch(/^not approved by /);
    expect(late.status).toBe(409);
    expect(late.body.error_code).toBe('GW.REQUEST_CLOSED');
    expect(h.simulator.calls()['taurusdb.putLock']).toBe(0);
    const history = await historyOf(h, who.auditor, id);
    expect(history.map((row) => [row.action, row.outcome, row.principal_sub])).toEqual([
      ['request', 'succeeded', 'alice'],
      ['expire', 'succeeded', 'scheduler'],
      ['approve', 'rejected', 'bob'],
    ]);
  });
});

await describeWithPostgres('lock request execution (PostgreSQL)', () => {
  describeExecution('PostgreSQL', async () => {
    const db = await TestDatabase.create();
    return { env: { AUDIT_DATABASE_URL: db.url }, drop: () => db.drop() };
  });

  describe('two replicas on one PostgreSQL database', () => {
    let db: TestDatabase;
    let replicas: Harness[];
    let who: Callers;

    beforeAll(async () => {
      db = await TestDatabase.create();
      const env = { ...BACKGROUND_ENV, AUDIT_DATABASE_URL: db.url, POLICY_FILE: policyFile() };
      const first = await startHarness(env);
      replicas = [first, await startHarness(env, { simulator: first.simulator })];
      who = await callersOf(first);
    });
    afterAll(async () => {
      await replicas[1]?.close();
      await replicas[0]?.close();
      await db.drop();
    });

    it('executes every due request exactly once between them', async () => {
      const targets = LOAD_INSTANCES.slice(0, 8);
      const ids: string[] = [];
      for (const [i, instance] of targets.entries()) {
        ids.push(await requested(replicas[i % 2], who.batch, instance, 30 + i));
      }

      for (const id of ids) {
        const done = await settledIn(replicas[0], who.auditor, id, [
          'SUCCEEDED',
          'FAILED',
          'VOIDED',
          'UNKNOWN',
        ]);
        expect(done.state).toBe('SUCCEEDED');
      }

      expect(replicas[0].simulator.calls()['taurusdb.putLock']).toBe(targets.length);
      for (const id of ids) {
        const executed = (await historyOf(replicas[0], who.auditor, id)).filter(
          (row) => row.action === 'execute' && row.outcome === 'succeeded',
        );
        expect(executed).toHaveLength(1);
      }
    });
  });

  describe('a replica killed while its PUT is at TaurusDB', () => {
    let db: TestDatabase;
    let simulator: RunningSimulator;
    let victim: Launched | undefined;
    let survivor: Harness | undefined;

    beforeAll(async () => {
      db = await TestDatabase.create();
      simulator = await startSimulator({ port: 0 });
    });
    afterAll(async () => {
      if (victim) await stop(victim.child, 'SIGKILL');
      await survivor?.close();
      await simulator.close();
      await db.drop();
    });

    it('leaves the request to another replica, which settles it by reading the lock', async () => {
      const env = {
        ...BACKGROUND_ENV,
        AUDIT_DATABASE_URL: db.url,
        POLICY_FILE: policyFile(),
      };
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      victim = await startGatewayProcess(
        url,
        gatewayEnvOn(simulator, 'execution-victim', { ...env, PORT: String(port) }),
      );
      const batch = await simulator.mintToken({ sub: 'bert', groups: ['batch'] });
      const auditor = await simulator.mintToken({ sub: 'audrey', groups: ['auditor'] });
      const instance = LOAD_INSTANCES[20];
      // Answered just inside the victim's deadline: the kill lands while the PUT is held, unless
      // this process stalls for about that long.
      const heldMs = Number(BACKGROUND_ENV.UPSTREAM_TIMEOUT_MS) - 100;
      await injectFault({ simulator }, { route: 'taurusdb.putLock', latencyMs: heldMs, times: 1 });
      const id = await requested({ url }, batch, instance, 45);

      await until('the victim to send its PUT', async () =>
        simulator.calls()['taurusdb.putLock'] === 1 ? true : undefined,
      );
      await stop(victim.child, 'SIGKILL');
      victim = undefined;
      survivor = await startHarness(env, { simulator });

      // The survivor first waits out the victim's claim (about eight deadlines) and the grace.
      const done = await settledIn(survivor, auditor, id, ['SUCCEEDED', 'FAILED'], 60_000);

      // The held PUT reached TaurusDB and was applied after its sender died.
      expect(done.state).toBe('SUCCEEDED');
      expect(simulator.calls()['taurusdb.putLock']).toBe(1);
      // Waits for the dead replica's execute row to be closed, like every other row.
      const history = await historyOf(survivor, auditor, id);
      const execute = history.find((row) => row.action === 'execute');
      expect(history.map((row) => row.action)).toEqual(['request', 'execute', 'settle']);
      expect(execute).toMatchObject({ outcome: 'unknown', error_code: 'GW.CRASHED' });
      expect(history[2]).toMatchObject({ outcome: 'succeeded', settles_audit_id: execute?.id });
    }, 90_000);
  });
});
