import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  graphql,
  injectFault,
  lockBody,
  lockPath,
  rest,
  SET_LOCK_MUTATION,
  simulatorAdmin,
} from './support/clients.js';
import {
  PAST_THE_DEADLINE_BOUND_MS,
  startHarness,
  type Harness,
} from './support/gateway-harness.js';

/**
 * How long TaurusDB holds the PUT that must time out: far beyond the harness's upstream deadline,
 * so that only the gateway's deadline can end the call, however long the machine stalls.
 */
const HELD_MS = 20_000;

describe('IAM token exchange and upstream failures', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  // Clears the simulator's faults as well as its counts and locks.
  beforeEach(() => h.simulator.reset());

  it('shares one IAM exchange among 50 concurrent first calls of one principal and project', async () => {
    const token = await h.simulator.mintToken({ sub: 'concurrent-carl', groups: ['dba'] });
    const { projectId, id } = INSTANCES.financeStaging;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => rest(h, 'GET', lockPath(projectId, id), { token })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(h.simulator.calls()['iam.oidc']).toBe(1);
  });

  it('evicts a revoked IAM token once and retries once with a fresh one', async () => {
    const token = await h.simulator.mintToken({ sub: 'revoked-rita', groups: ['dba'] });
    const warmed = INSTANCES.financeProd;
    expect((await rest(h, 'GET', lockPath(warmed.projectId, warmed.id), { token })).status).toBe(
      200,
    );
    expect(h.simulator.calls()['iam.oidc']).toBe(1);

    await simulatorAdmin(h, 'tokens/revoke');
    const before = h.simulator.calls();
    // Another instance of the same project: its details are not cached, so the lookup meets
    // the 401 first.
    const { projectId, id } = INSTANCES.financeStaging;
    const answer = await rest(h, 'PUT', lockPath(projectId, id), {
      token,
      body: lockBody('enable', 7),
    });
    expect(answer.status).toBe(200);
    const after = h.simulator.calls();
    expect(after['iam.oidc'] - before['iam.oidc']).toBe(1);
    // The instance lookup met the 401 and was repeated once; the PUT then went through once.
    expect(after['taurusdb.instance'] - before['taurusdb.instance']).toBe(2);
    expect(after['taurusdb.putLock'] - before['taurusdb.putLock']).toBe(1);
  });

  it('reuses instance details for a moment, one lookup shared by concurrent requests', async () => {
    const token = await h.simulator.mintToken({ sub: 'cached-cora', groups: ['dba'] });
    const { projectId, id } = INSTANCES.apacProd;
    const dryRun = () =>
      rest(h, 'PUT', `${lockPath(projectId, id)}?dry_run=true`, {
        token,
        body: lockBody('enable', 9),
      });
    const answers = await Promise.all(Array.from({ length: 10 }, dryRun));
    // One more once the shared lookup is over: served from the cache, not from a new lookup.
    answers.push(await dryRun());
    expect(answers.map((a) => a.status)).toEqual(Array(11).fill(200));
    expect(h.simulator.calls()['taurusdb.instance']).toBe(1);
  });

  it('retries a PUT refused with 401 once, with a fresh IAM token, and succeeds', async () => {
    const token = await h.simulator.mintToken({ sub: 'put-401-pia', groups: ['dba'] });
    const { projectId, id } = INSTANCES.financeStaging;
    await injectFault(h, { route: 'taurusdb.putLock', status: 401, times: 1 });

    const answer = await rest(h, 'PUT', lockPath(projectId, id), {
      token,
      body: lockBody('enable', 3),
    });
    expect(answer.status).toBe(200);
    const calls = h.simulator.calls();
    expect(calls['taurusdb.putLock']).toBe(2);
    // One exchange for the first token, one for the token that replaced the evicted one.
    expect(calls['iam.oidc']).toBe(2);
  });

  it('answers 502 UPSTREAM_ERROR when TaurusDB fails with 500, and records the failure', async () => {
    const token = await h.simulator.mintToken({ sub: 'failing-fred', groups: ['dba', 'auditor'] });
    const { projectId, id } = INSTANCES.financeStaging;
    await injectFault(h, { route: 'taurusdb.putLock', status: 500, errorCode: 'DBS.999999' });

    const answer = await rest(h, 'PUT', lockPath(projectId, id), {
      token,
      body: lockBody('enable', 7),
    });
    expect(answer.status).toBe(502);
    expect(answer.body.error_code).toBe('GW.UPSTREAM_ERROR');
    expect(h.simulator.calls()['taurusdb.putLock']).toBe(1);
    const auditId = answer.headers.get('x-audit-id');

    const gql = await graphql(
      h,
      SET_LOCK_MUTATION,
      { input: { projectId, instanceId: id, action: 'ENABLE', lockRetentionDays: 7 } },
      token,
    );
    expect(gql.errors?.[0].extensions).toMatchObject({
      code: 'UPSTREAM_ERROR',
      errorCode: 'GW.UPSTREAM_ERROR',
    });

    const trail = await rest<{
      events: { id: string; outcome: string; upstream_status: number }[];
    }>(h, 'GET', `/v1/audit-events?instance_id=${id}&outcome=failed`, { token });
    expect(trail.body.events.find((e) => e.id === auditId)).toMatchObject({
      outcome: 'failed',
      upstream_status: 500,
    });
  });

  it('answers 504 at the deadline, without waiting for a TaurusDB that is too slow', async () => {
    const token = await h.simulator.mintToken({ sub: 'slow-sam', groups: ['dba', 'auditor'] });
    const { projectId, id } = INSTANCES.apacProd;
    // Warm the IAM token and instance path so the deadline applies to the PUT alone.
    await rest(h, 'GET', lockPath(projectId, id), { token });
    // The held PUT would still change the lock once its latency ends: this test comes last, and
    // closing the simulator cancels it.
    await injectFault(h, { route: 'taurusdb.putLock', latencyMs: HELD_MS });

    const started = performance.now();
    const answer = await rest(h, 'PUT', lockPath(projectId, id), {
      token,
      body: lockBody('enable', 7),
    });
    const tookMs = performance.now() - started;
    expect(answer.status).toBe(504);
    expect(answer.body.error_code).toBe('GW.UPSTREAM_TIMEOUT');
    // A correctness bound, not a performance target: the answer comes at the deadline, not when
    // the held upstream answers.
    expect(tookMs).toBeLessThan(PAST_THE_DEADLINE_BOUND_MS);

    const trail = await rest<{ events: { id: string; outcome: string }[] }>(
      h,
      'GET',
      `/v1/audit-events?instance_id=${id}`,
      { token },
    );
    // The PUT may have reached TaurusDB: nobody knows, and the row says so.
    expect(trail.body.events.find((e) => e.id === answer.headers.get('x-audit-id'))?.outcome).toBe(
      'unknown',
    );
  });
});
