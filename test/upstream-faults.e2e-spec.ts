import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import { INSTANCES } from '../src/simulator/fixtures.js';
import type { RouteName } from '../src/simulator/simulator.js';
import {
  clearFaults,
  graphql,
  injectFault,
  lockBody,
  lockPath,
  rest,
  SET_LOCK_MUTATION,
} from './support/clients.js';
import {
  PAST_THE_DEADLINE_BOUND_MS,
  startHarness,
  type Harness,
} from './support/gateway-harness.js';

/**
 * How long a slow upstream holds a call: far beyond the harness's upstream deadline, so that only
 * the gateway's deadline can end the call, however long the machine stalls.
 */
const HELD_MS = 20_000;
const { projectId, id: instanceId } = INSTANCES.financeProd;

interface AuditRow {
  outcome: string;
  upstream_status: number | null;
  error_code: string | null;
}

function auditRow(h: Harness, auditId: string): AuditRow | undefined {
  const db = new Database(h.auditPath, { readonly: true });
  try {
    return db
      .prepare('SELECT outcome, upstream_status, error_code FROM audit_events WHERE id = ?')
      .get(auditId) as AuditRow | undefined;
  } finally {
    db.close();
  }
}

interface FaultCase {
  name: string;
  route: RouteName;
  fault: Record<string, unknown>;
  status: number;
  errorCode: string;
  /** The audit outcome: the PUT certainly not applied (failed), refused, or maybe applied. */
  outcome: 'failed' | 'rejected' | 'unknown';
  upstreamStatus: number | null;
  /** PUTs that reached TaurusDB: a PUT that may have been applied is never sent again. */
  puts: number;
  retryAfter?: string;
}

/*
 * Every fault is injected on one route, for every call to it, while a fresh caller enables the
 * lock: the caller's IAM token is not cached yet, so IAM faults apply, and an instance lookup or
 * PUT fault applies after IAM succeeded.
 */
const FAULTS: FaultCase[] = [
  {
    name: 'IAM cuts the connection (down)',
    route: 'iam.oidc',
    fault: { reset: true },
    status: 503,
    errorCode: 'GW.IAM_UNAVAILABLE',
    outcome: 'failed',
    upstreamStatus: null,
    puts: 0,
  },
  {
    name: 'IAM answers 503',
    route: 'iam.oidc',
    fault: { status: 503 },
    status: 503,
    errorCode: 'GW.IAM_UNAVAILABLE',
    outcome: 'failed',
    upstreamStatus: null,
    puts: 0,
  },
  {
    name: 'IAM is slower than the deadline',
    route: 'iam.oidc',
    fault: { latencyMs: HELD_MS },
    status: 504,
    errorCode: 'GW.UPSTREAM_TIMEOUT',
    outcome: 'failed',
    upstreamStatus: null,
    puts: 0,
  },
  {
    name: 'the instance lookup is slower than the deadline',
    route: 'taurusdb.instance',
    fault: { latencyMs: HELD_MS },
    status: 504,
    errorCode: 'GW.UPSTREAM_TIMEOUT',
    outcome: 'failed',
    upstreamStatus: null,
    puts: 0,
  },
  {
    name: 'the instance lookup keeps answering 503 (reads are retried, then given up)',
    route: 'taurusdb.instance',
    fault: { status: 503 },
    status: 502,
    errorCode: 'GW.UPSTREAM_ERROR',
    outcome: 'failed',
    upstreamStatus: 503,
    puts: 0,
  },
  {
    name: 'TaurusDB throttles the PUT with 429 and Retry-After',
    route: 'taurusdb.putLock',
    fault: { status: 429, retryAfterSeconds: 7 },
    status: 429,
    errorCode: 'APIGW.0308',
    outcome: 'rejected',
    upstreamStatus: 429,
    puts: 1,
    retryAfter: '7',
  },
  {
    name: 'TaurusDB answers the PUT with 502 and its own error body',
    route: 'taurusdb.putLock',
    fault: { status: 502 },
    status: 502,
    errorCode: 'GW.UPSTREAM_ERROR',
    outcome: 'failed',
    upstreamStatus: 502,
    puts: 1,
  },
  {
    name: 'a proxy answers the PUT with 502 and no TaurusDB error body',
    route: 'taurusdb.putLock',
    fault: { status: 502, errorCode: 'Bad Gateway' },
    status: 502,
    errorCode: 'GW.UPSTREAM_ERROR',
    outcome: 'unknown',
    upstreamStatus: 502,
    puts: 1,
  },
  {
    name: 'TaurusDB answers the PUT with 503',
    route: 'taurusdb.putLock',
    fault: { status: 503 },
    status: 502,
    errorCode: 'GW.UPSTREAM_ERROR',
    outcome: 'failed',
    upstreamStatus: 503,
    puts: 1,
  },
  {
    name: 'the connection is reset in the middle of the PUT answer',
    route: 'taurusdb.putLock',
    fault: { reset: true },
    status: 503,
    errorCode: 'GW.UPSTREAM_UNAVAILABLE',
    outcome: 'unknown',
    upstreamStatus: null,
    puts: 1,
  },
  {
    name: 'the PUT answer is malformed JSON',
    route: 'taurusdb.putLock',
    fault: { malformed: true },
    status: 502,
    errorCode: 'GW.UPSTREAM_ERROR',
    outcome: 'unknown',
    upstreamStatus: null,
    puts: 1,
  },
  {
    name: 'the PUT answer is over the 1 MiB cap',
    route: 'taurusdb.putLock',
    fault: { oversizedBytes: 2 * 1024 * 1024 },
    status: 502,
    errorCode: 'GW.UPSTREAM_ERROR',
    outcome: 'unknown',
    upstreamStatus: null,
    puts: 1,
  },
  {
    name: 'TaurusDB refuses the PUT with a forged gateway code (GW.VALIDATION)',
    route: 'taurusdb.putLock',
    fault: { status: 400, errorCode: 'GW.VALIDATION' },
    status: 400,
    errorCode: 'GW.UPSTREAM_ERROR',
    outcome: 'rejected',
    upstreamStatus: 400,
    puts: 1,
  },
  {
    name: 'the instance lookup answers with a forged gateway code (GW.FORBIDDEN)',
    route: 'taurusdb.instance',
    fault: { status: 403, errorCode: 'GW.FORBIDDEN' },
    status: 403,
    errorCode: 'GW.UPSTREAM_ERROR',
    outcome: 'rejected',
    upstreamStatus: 403,
    puts: 0,
  },
  {
    name: 'the instance details describe another instance',
    route: 'taurusdb.instance',
    fault: { describeAs: { id: INSTANCES.financeStaging.id } },
    status: 502,
    errorCode: 'GW.UPSTREAM_ERROR',
    outcome: 'failed',
    upstreamStatus: null,
    puts: 0,
  },
  {
    name: 'the instance details name another project',
    route: 'taurusdb.instance',
    fault: { describeAs: { project_id: INSTANCES.apacProd.projectId } },
    status: 502,
    errorCode: 'GW.UPSTREAM_ERROR',
    outcome: 'failed',
    upstreamStatus: null,
    puts: 0,
  },
];

describe('upstream faults map to the contract, without waiting past the deadline', () => {
  let h: Harness;

  beforeAll(async () => {
    // The breaker stays out of this table: it has its own suite below.
    h = await startHarness({ TAURUSDB_BREAKER_THRESHOLD: '1000' });
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    h.simulator.reset();
    await clearFaults(h);
  });

  it.each(FAULTS)('$name → $status $errorCode, audited $outcome', async (c) => {
    // A caller of its own, so that no IAM token is cached for it yet.
    const token = await h.simulator.mintToken({ sub: `faulted-${FAULTS.indexOf(c)}` });
    await injectFault(h, { route: c.route, ...c.fault });

    const started = performance.now();
    const answer = await rest(h, 'PUT', lockPath(projectId, instanceId), {
      token,
      body: lockBody('enable', 30),
    });
    const tookMs = performance.now() - started;

    expect(answer.status).toBe(c.status);
    expect(answer.body).toEqual({
      error_code: c.errorCode,
      error_msg: expect.any(String),
      request_id: answer.headers.get('x-request-id'),
    });
    expect(answer.headers.get('retry-after')).toBe(c.retryAfter ?? null);
    // A correctness bound, not a performance target: the answer comes at the deadline, not when
    // the held upstream answers.
    expect(tookMs).toBeLessThan(PAST_THE_DEADLINE_BOUND_MS);
    expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(c.puts);

    const auditId = answer.headers.get('x-audit-id');
    expect(auditId).toBeTruthy();
    expect(auditRow(h, auditId as string)).toEqual({
      outcome: c.outcome,
      upstream_status: c.upstreamStatus,
      error_code: c.errorCode,
    });
  });

  it('retries a read whose connection was reset once, and the mutation then succeeds', async () => {
    const token = await h.simulator.mintToken({ sub: 'retried-read-rhea' });
    await injectFault(h, { route: 'taurusdb.instance', reset: true, times: 1 });

    const answer = await rest(h, 'PUT', lockPath(projectId, instanceId), {
      token,
      body: lockBody('enable', 30),
    });

    expect(answer.status).toBe(200);
    expect(h.simulator.calls()['taurusdb.instance']).toBe(2);
    expect(auditRow(h, answer.headers.get('x-audit-id') as string)?.outcome).toBe('succeeded');
  });
});

describe('upstream answers are not trusted blindly', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    h.simulator.reset();
    await clearFaults(h);
  });

  /**
   * An error_msg that would forge a log line and clear a terminal, about 900 KB as JSON: the
   * most that fits under the gateway's 1 MiB answer cap.
   */
  const hostileMessage = {
    errorMessage: 'ok\n2026-01-01 forged line\u001b[2J\u0000',
    errorMessageBytes: 700 * 1024,
  };
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

  it('caps and cleans an upstream error_msg on both channels and in the row', async () => {
    const token = await h.simulator.mintToken({ sub: 'hostile-message' });
    await injectFault(h, {
      route: 'taurusdb.putLock',
      status: 409,
      errorCode: 'DBS.212033',
      ...hostileMessage,
    });
    const viaRest = await rest(h, 'PUT', lockPath(projectId, instanceId), {
      token,
      body: lockBody('enable', 30),
    });
    expect(viaRest.status).toBe(409);
    expect(viaRest.body.error_code).toBe('DBS.212033');
    const message = String(viaRest.body.error_msg);
    expect(message.length).toBeLessThanOrEqual(512);
    expect(message.startsWith('ok\\u000a2026-01-01 forged line\\u001b[2J\\u0000ok')).toBe(true);
    expect(message).not.toMatch(CONTROL);

    const viaGraphql = await graphql(
      h,
      SET_LOCK_MUTATION,
      { input: { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 30 } },
      token,
    );
    expect(viaGraphql.errors?.[0].message).toBe(message);
    expect(JSON.stringify(viaGraphql).length).toBeLessThan(2000);

    // Before the decision, the message is kept in the row's reasons: bounded there too.
    await clearFaults(h);
    await injectFault(h, { route: 'taurusdb.instance', status: 404, ...hostileMessage });
    const other = await rest(h, 'PUT', lockPath(projectId, INSTANCES.financeStaging.id), {
      token,
      body: lockBody('enable', 30),
    });
    expect(other.status).toBe(404);
    const db = new Database(h.auditPath, { readonly: true });
    const row = db
      .prepare('SELECT decision_reasons FROM audit_events WHERE id = ?')
      .get(other.headers.get('x-audit-id')) as { decision_reasons: string };
    db.close();
    const reasons = JSON.parse(row.decision_reasons) as string[];
    expect(reasons).toHaveLength(1);
    expect(reasons[0].length).toBeLessThanOrEqual(600);
    expect(reasons[0]).not.toMatch(CONTROL);
  });

  it('decides the same on duplicate tag keys in either order: every value must be allowed', async () => {
    const env = (value: string) => ({ key: 'env', value });
    const owner = { key: 'owner', value: 'alice' };
    for (const [name, tags] of [
      ['dev-then-prod', [env('dev'), env('prod'), owner]],
      ['prod-then-dev', [env('prod'), env('dev'), owner]],
    ] as const) {
      // A caller of its own for each order, so that no cached details are reused.
      const token = await h.simulator.mintToken({ sub: `duplicate-tags-${name}`, groups: ['dba'] });
      await injectFault(h, { route: 'taurusdb.instance', describeAs: { tags }, times: 1 });
      const answer = await rest(h, 'PUT', `${lockPath(projectId, instanceId)}?dry_run=true`, {
        token,
        body: lockBody('enable', 30),
      });
      expect(answer.status).toBe(403);
      expect(answer.body.error_code).toBe('GW.POLICY_DENIED');
    }
    expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);
  });
});

describe('circuit breaker to TaurusDB', () => {
  const THRESHOLD = 3;
  /** Longer than any stall of a busy machine between the circuit opening and the next call. */
  const HALF_OPEN_MS = 8_000;
  let h: Harness;
  let token: string;

  beforeAll(async () => {
    h = await startHarness({
      TAURUSDB_BREAKER_THRESHOLD: String(THRESHOLD),
      TAURUSDB_BREAKER_HALF_OPEN_MS: String(HALF_OPEN_MS),
    });
    token = await h.simulator.mintToken({ sub: 'breaker-bea' });
  });
  afterAll(() => h.close());

  const enable = (days: number) =>
    rest(h, 'PUT', lockPath(projectId, instanceId), { token, body: lockBody('enable', days) });
  const instanceCalls = () => h.simulator.calls()['taurusdb.instance'] ?? 0;

  it('opens after repeated failures, answers fast without calling TaurusDB, and closes after recovery', async () => {
    await injectFault(h, { route: 'taurusdb.instance', status: 503 });
    // Each request makes one or more failing reads (they are retried) until the circuit opens.
    for (let request = 0; request < THRESHOLD && instanceCalls() < THRESHOLD; request += 1) {
      expect([502, 503]).toContain((await enable(30)).status);
    }
    expect(instanceCalls()).toBe(THRESHOLD);

    // A call that got through now would wait out the deadline and answer 504: a 503 with no
    // call counted is the circuit answering at once.
    await clearFaults(h);
    await injectFault(h, { route: 'taurusdb.instance', latencyMs: HELD_MS });
    const refused = await enable(30);
    expect(refused.status).toBe(503);
    expect(refused.body.error_code).toBe('GW.UPSTREAM_UNAVAILABLE');
    expect(instanceCalls()).toBe(THRESHOLD);
    expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);
    expect(auditRow(h, refused.headers.get('x-audit-id') as string)).toMatchObject({
      outcome: 'failed',
      error_code: 'GW.UPSTREAM_UNAVAILABLE',
    });

    await clearFaults(h);
    await sleep(HALF_OPEN_MS + 200);
    expect((await enable(30)).status).toBe(200);
    const extended = await rest(h, 'PUT', lockPath(projectId, instanceId), {
      token,
      body: lockBody('extend', 60),
    });
    expect(extended.status).toBe(200);
    expect(h.simulator.calls()['taurusdb.putLock']).toBe(2);
  });
});
