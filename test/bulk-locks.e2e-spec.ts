import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { describeWithPostgres, TestDatabase } from '../src/audit/testing/postgres-test-database.js';
import {
  ENTERPRISE_PROJECTS,
  FLEET_INSTANCES,
  PROJECTS,
  type FixtureInstance,
} from '../src/simulator/fixtures.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/simulator.js';
import {
  freePort,
  gatewayEnvOn,
  startGatewayProcess,
  stop,
  type Launched,
} from './support/child-processes.js';
import { graphql, injectFault, rest } from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';
import { until } from '../src/common/testing/polling.js';

/**
 * Bulk lock jobs end to end through the simulator's fleet, on both channels and both stores:
 * every item through the single call's use case (its own decision, audit row and, where the rule
 * asks for approval, lock request), dry runs, idempotent creation, who may read a job; and a
 * replica killed in the middle of a job, which another replica completes with no instance locked
 * twice.
 */
const POLICY = {
  version: 1,
  rules: [
    {
      id: 'finance-direct',
      groups: ['dba'],
      projects: ['*'],
      enterpriseProjects: [ENTERPRISE_PROJECTS.finance],
      tags: {},
      actions: ['enable', 'extend', 'show'],
    },
    {
      id: 'default-four-eyes',
      groups: ['dba'],
      projects: ['*'],
      enterpriseProjects: [ENTERPRISE_PROJECTS.default],
      tags: {},
      actions: ['enable', 'extend'],
      approval: { required: 1, approverGroups: ['dba-leads'] },
    },
  ],
};

const FLEET = PROJECTS.cnNorth4Fleet.id;
/** The selector of the suite: `tier=gold`, one fleet instance in nine, across every enterprise project. */
const GOLD = { key: 'tier', value: 'gold' };
const GOLD_INSTANCES = FLEET_INSTANCES.filter((i) =>
  i.tags.some((t) => t.key === GOLD.key && t.value === GOLD.value),
);

type Expected = 'allowed' | 'approval' | 'denied';
const expectedOf = (instance: FixtureInstance): Expected =>
  instance.enterpriseProjectId === ENTERPRISE_PROJECTS.finance
    ? 'allowed'
    : instance.enterpriseProjectId === ENTERPRISE_PROJECTS.default
      ? 'approval'
      : 'denied';

const JOB_FIELDS = `id state total done
  items { instanceId state result errorCode auditId lockRequestId }`;
const SET_LOCKS = `mutation ($input: SetBackupVaultLocksInput!) {
  setBackupVaultLocks(input: $input) { ${JOB_FIELDS} } }`;
const JOB_QUERY = `query ($id: ID!) { bulkLockJob(id: $id) { ${JOB_FIELDS} } }`;

interface GraphqlItem {
  instanceId: string;
  state: string;
  result: string | null;
  errorCode: string | null;
  auditId: string | null;
  lockRequestId: string | null;
}
interface GraphqlJob {
  id: string;
  state: string;
  total: number;
  done: number;
  items: GraphqlItem[];
}
interface RestJob {
  id: string;
  state: string;
  total: number;
  done: number;
  items: {
    instance_id: string;
    state: string;
    result: string | null;
    error_code: string | null;
    audit_id: string | null;
    lock_request_id: string | null;
  }[];
}
interface AuditRow {
  id: string;
  instance_id: string;
  action: string;
  outcome: string | null;
  dry_run: boolean;
  decision_rule: string | null;
  lock_request_id: string | null;
  principal_sub: string;
  channel: string;
}

function policyFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vlg-policy-')), 'policy.json');
  writeFileSync(file, JSON.stringify(POLICY));
  return file;
}

const BACKGROUND_ENV = { LOCK_REQUEST_POLL_INTERVAL: '1s', BULK_CONCURRENCY: '4' };

async function finishedGraphql(h: Harness, token: string, id: string): Promise<GraphqlJob> {
  return until(
    `bulk job ${id} to finish`,
    async () => {
      const answer = await graphql(h, JOB_QUERY, { id }, token);
      const job = answer.data?.bulkLockJob as GraphqlJob | null | undefined;
      return job?.state === 'FINISHED' ? job : undefined;
    },
    60_000,
  );
}

async function finishedRest(h: Pick<Harness, 'url'>, token: string, id: string): Promise<RestJob> {
  return until(
    `bulk job ${id} to finish`,
    async () => {
      const answer = await rest<RestJob>(h, 'GET', `/v1/bulk-locks/${id}`, { token });
      return answer.status === 200 && answer.body.state === 'FINISHED' ? answer.body : undefined;
    },
    90_000,
  );
}

async function auditRowsOf(h: Harness, auditor: string, instanceId: string): Promise<AuditRow[]> {
  const answer = await rest<{ events: AuditRow[] }>(
    h,
    'GET',
    `/v1/audit-events?project_id=${FLEET}&instance_id=${instanceId}&limit=100`,
    { token: auditor },
  );
  expect(answer.status).toBe(200);
  return answer.body.events;
}

const stores: [string, () => Promise<{ env: Record<string, string>; drop(): Promise<void> }>][] = [
  ['SQLite', async () => ({ env: {}, drop: async () => undefined })],
  [
    'PostgreSQL',
    async () => {
      const db = await TestDatabase.create();
      return { env: { AUDIT_DATABASE_URL: db.url }, drop: () => db.drop() };
    },
  ],
];

await describeWithPostgres('bulk locks end to end', () => {
  describe.each(stores)('with the %s store', (_name, storeUnderTest) => {
    let h: Harness;
    let drop: () => Promise<void>;
    let dba: string;
    let auditor: string;
    let stranger: string;

    beforeAll(async () => {
      const store = await storeUnderTest();
      drop = store.drop;
      h = await startHarness({ ...BACKGROUND_ENV, ...store.env, POLICY_FILE: policyFile() });
      dba = await h.simulator.mintToken({ sub: 'dora', groups: ['dba'] });
      auditor = await h.simulator.mintToken({ sub: 'audrey', groups: ['auditor'] });
      stranger = await h.simulator.mintToken({ sub: 'sam', groups: ['dba'] });
    });
    afterAll(async () => {
      await h.close();
      await drop();
    });

    it('previews every instance over REST in a dry run, sending no PUT', async () => {
      const created = await rest<{ id: string; state: string; request_id: string }>(
        h,
        'POST',
        '/v1/bulk-locks',
        {
          token: dba,
          body: {
            project_id: FLEET,
            selector: { tags: [GOLD] },
            action: 'enable',
            lock_retention_days: 30,
            dry_run: true,
          },
        },
      );
      expect(created.status).toBe(202);
      expect(created.headers.get('location')).toBe(`/v1/bulk-locks/${created.body.id}`);
      expect(created.body).toEqual({
        id: expect.any(String),
        state: 'QUEUED',
        request_id: expect.any(String),
      });

      const job = await finishedRest(h, dba, created.body.id);

      expect(job.total).toBe(GOLD_INSTANCES.length);
      expect(job.done).toBe(GOLD_INSTANCES.length);
      expect(job.items.map((i) => i.instance_id)).toEqual(GOLD_INSTANCES.map((i) => i.id));
      for (const [index, item] of job.items.entries()) {
        const expected = expectedOf(GOLD_INSTANCES[index]);
        expect(item).toMatchObject(
          expected === 'denied'
            ? { state: 'DENIED', result: null, error_code: 'GW.POLICY_DENIED' }
            : { state: 'SUCCEEDED', result: 'dry-run', error_code: null, lock_request_id: null },
        );
        expect(item.audit_id).toEqual(expect.any(String));
      }
      expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);
    });

    it('locks the allowed instances over GraphQL, asks approval where the rule does, denies the rest, one audit row each', async () => {
      const input = {
        projectId: FLEET,
        selector: { tags: [GOLD] },
        action: 'ENABLE',
        lockRetentionDays: 30,
        idempotencyKey: `gold-${_name}`,
      };
      const created = await graphql(h, SET_LOCKS, { input }, dba);
      expect(created.errors).toBeUndefined();
      const { id } = created.data?.setBackupVaultLocks as GraphqlJob;

      const job = await finishedGraphql(h, dba, id);

      expect(job).toMatchObject({ total: GOLD_INSTANCES.length, done: GOLD_INSTANCES.length });
      const allowed = GOLD_INSTANCES.filter((i) => expectedOf(i) === 'allowed');
      expect(h.simulator.calls()['taurusdb.putLock']).toBe(allowed.length);
      for (const [index, item] of job.items.entries()) {
        const instance = GOLD_INSTANCES[index];
        expect(item.instanceId).toBe(instance.id);
        const rows = await auditRowsOf(h, auditor, instance.id);
        const row = rows.find((r) => r.id === item.auditId);
        expect(row).toMatchObject({ principal_sub: 'dora', channel: 'graphql', dry_run: false });
        switch (expectedOf(instance)) {
          case 'allowed':
            expect(item).toMatchObject({ state: 'SUCCEEDED', result: 'success', errorCode: null });
            expect(row).toMatchObject({
              action: 'enable',
              outcome: 'succeeded',
              decision_rule: 'finance-direct',
            });
            break;
          case 'approval':
            expect(item).toMatchObject({ state: 'PENDING_APPROVAL', result: 'pending-approval' });
            expect(item.lockRequestId).toEqual(expect.any(String));
            expect(row).toMatchObject({ action: 'request', lock_request_id: item.lockRequestId });
            break;
          case 'denied':
            expect(item).toMatchObject({ state: 'DENIED', errorCode: 'GW.POLICY_DENIED' });
            expect(row).toMatchObject({ outcome: 'denied', decision_rule: null });
            break;
        }
      }

      // The same key and request: the same job, nothing run again, the fleet not listed again;
      // another request: 422.
      const listed = h.simulator.calls()['taurusdb.listInstances'];
      const replay = await graphql(h, SET_LOCKS, { input }, dba);
      expect((replay.data?.setBackupVaultLocks as GraphqlJob).id).toBe(id);
      expect(h.simulator.calls()['taurusdb.listInstances']).toBe(listed);
      const reused = await graphql(
        h,
        SET_LOCKS,
        { input: { ...input, lockRetentionDays: 31 } },
        dba,
      );
      expect(reused.errors?.[0].extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        errorCode: 'GW.IDEMPOTENCY_KEY_REUSED',
      });
      expect(h.simulator.calls()['taurusdb.putLock']).toBe(allowed.length);

      // Its creator and the auditor group read it; anyone else finds nothing.
      expect((await graphql(h, JOB_QUERY, { id }, stranger)).data?.bulkLockJob).toBeNull();
      expect((await rest(h, 'GET', `/v1/bulk-locks/${id}`, { token: stranger })).status).toBe(404);
      expect((await rest(h, 'GET', `/v1/bulk-locks/${id}`, { token: auditor })).status).toBe(200);
    });

    it('refuses bad input naming the field and its rule, before anything is listed', async () => {
      const listed = h.simulator.calls()['taurusdb.listInstances'] ?? 0;
      const bad = await rest<{ error_code: string; error_msg: string }>(
        h,
        'POST',
        '/v1/bulk-locks',
        {
          token: dba,
          body: {
            project_id: FLEET,
            selector: { enterprise_project_ids: ['nope'] },
            action: 'enable',
            lock_retention_days: 0,
          },
        },
      );
      expect(bad.status).toBe(400);
      expect(bad.body.error_code).toBe('GW.VALIDATION');
      expect(bad.body.error_msg).toMatch(/lock_retention_days|enterprise_project_ids/);
      const badGraphql = await graphql(
        h,
        SET_LOCKS,
        { input: { projectId: FLEET, selector: {}, action: 'ENABLE', lockRetentionDays: 40000 } },
        dba,
      );
      expect(badGraphql.errors?.[0].message).toMatch(/lockRetentionDays/);
      expect(h.simulator.calls()['taurusdb.listInstances'] ?? 0).toBe(listed);
    });
  });

  describe('a replica killed in the middle of a job', () => {
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

    it('is completed by another replica, its items in flight settled by reading their locks, no instance locked twice', async () => {
      const env = {
        ...BACKGROUND_ENV,
        UPSTREAM_TIMEOUT_MS: '3000',
        AUDIT_REPLICA_LEASE_SECONDS: '2',
        AUDIT_DATABASE_URL: db.url,
        POLICY_FILE: policyFile(),
      };
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      victim = await startGatewayProcess(
        url,
        gatewayEnvOn(simulator, 'bulk-victim', { ...env, PORT: String(port) }),
      );
      const dba = await simulator.mintToken({ sub: 'dora', groups: ['dba'] });
      const finance = GOLD_INSTANCES.filter((i) => expectedOf(i) === 'allowed');
      // Every PUT is held at TaurusDB long enough for the kill to land while some are in flight.
      await injectFault({ simulator }, { route: 'taurusdb.putLock', latencyMs: 1_500 });
      const created = await rest<{ id: string }>({ url }, 'POST', '/v1/bulk-locks', {
        token: dba,
        body: {
          project_id: FLEET,
          selector: { enterprise_project_ids: [ENTERPRISE_PROJECTS.finance], tags: [GOLD] },
          action: 'enable',
          lock_retention_days: 45,
        },
      });
      expect(created.status).toBe(202);

      await until('the victim to have PUTs at TaurusDB past its first slots', async () =>
        (simulator.calls()['taurusdb.putLock'] ?? 0) >= 6 ? true : undefined,
      );
      await stop(victim.child, 'SIGKILL');
      victim = undefined;
      survivor = await startHarness(env, { simulator });

      const job = await finishedRest(survivor, dba, created.body.id);

      expect(job.total).toBe(finance.length);
      // An item the victim had claimed but not yet sent ends FAILED (its lock is off); every
      // other one ends SUCCEEDED, and each of those had exactly one PUT.
      const succeeded = job.items.filter((item) => item.state === 'SUCCEEDED');
      const crashed = job.items.filter((item) => item.state !== 'SUCCEEDED');
      expect(crashed.every((item) => item.error_code === 'GW.CRASHED')).toBe(true);
      expect(simulator.calls()['taurusdb.putLock']).toBe(succeeded.length);
      // The items in flight at the kill were settled by reading their locks: no audit row of
      // their own run, and no second PUT.
      expect(job.items.filter((item) => item.audit_id === null).length).toBeGreaterThan(0);
    }, 90_000);
  });
});
