import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  clearFaults,
  graphql,
  injectFault,
  lockBody,
  lockPath,
  rest,
  SET_LOCK_MUTATION,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';
import { until } from '../src/common/testing/polling.js';
import { labelSetsOf, metricFamilies, sampleSum } from './support/prometheus-text.js';

/**
 * Every series an operator alerts on, read from `/metrics` after the test has caused it. The
 * rule file and dashboard under `deploy/` name only series that exist: see the deployment suite.
 */
const LOCK_ROUTE = '/v3/:project_id/instances/:instance_id/backups/vault-lock';
const MUTATIONS_PER_MINUTE = 3;
/**
 * How long TaurusDB holds the PUT whose open audit attempt is scraped: long enough that the scrape
 * lands while it is held, however long the machine stalls.
 */
const HELD_MS = 4_000;
/** Far beyond HELD_MS: no call in these tests is meant to time out, the held PUT least of all. */
const UPSTREAM_TIMEOUT_MS = 10_000;

const ALERT_RULES = 'deploy/prometheus/vault-lock-gateway.rules.yaml';
const DASHBOARD = 'deploy/grafana/vault-lock-gateway.dashboard.json';

interface AlertRule {
  alert: string;
  expr: string;
  labels: { severity: string };
  annotations: { summary: string };
}
interface Dashboard {
  templating: { list: { query: string }[] };
  panels: { title: string; targets: { expr: string }[] }[];
}

/** The series a PromQL expression reads, other than the `up` Prometheus writes itself. */
const seriesIn = (expr: string): string[] =>
  [...expr.matchAll(/\b(?:gateway|vault_lock|process|nodejs)_[a-z0-9_]+/g)].map(([name]) => name);

const scrape = async (h: Harness): Promise<string> => (await fetch(`${h.url}/metrics`)).text();

/** How much `name{labels}` grew while `cause` ran (a series absent before counts from 0). */
async function growth(
  h: Harness,
  name: string,
  labels: Record<string, string>,
  cause: () => Promise<void>,
): Promise<number> {
  const before = sampleSum(await scrape(h), name, labels) ?? 0;
  await cause();
  return (sampleSum(await scrape(h), name, labels) ?? 0) - before;
}

describe('metrics', () => {
  let h: Harness;
  const { projectId, id: instanceId } = INSTANCES.financeProd;
  const tokenFor = (sub: string, groups = ['dba']) => h.simulator.mintToken({ sub, groups });
  const putLock = (
    token: string,
    instance: { projectId: string; id: string } = INSTANCES.financeProd,
    options: { days?: number; dryRun?: boolean; headers?: Record<string, string> } = {},
  ) =>
    rest(
      h,
      'PUT',
      `${lockPath(instance.projectId, instance.id)}${options.dryRun === false ? '' : '?dry_run=true'}`,
      { token, body: lockBody('enable', options.days ?? 30), headers: options.headers },
    );

  beforeAll(async () => {
    h = await startHarness({
      RATE_LIMIT_MUTATIONS_PER_MINUTE: String(MUTATIONS_PER_MINUTE),
      UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
    });
  });
  afterAll(() => h.close());

  it('counts and times requests by channel, operation and outcome', async () => {
    const token = await tokenFor('metrics-olga');
    expect((await putLock(token)).status).toBe(200);
    expect((await putLock(token, INSTANCES.marketingProd)).status).toBe(403);
    const input = { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 30, dryRun: true };
    expect((await graphql(h, SET_LOCK_MUTATION, { input }, token)).errors).toBeUndefined();
    const unauthenticated = await graphql(h, SET_LOCK_MUTATION, { input });
    expect(unauthenticated.errors?.[0].extensions?.errorCode).toBe('GW.UNAUTHENTICATED');

    const text = await scrape(h);
    const count = (channel: string, operation: string, outcome: string) =>
      sampleSum(text, 'gateway_operation_duration_seconds_count', { channel, operation, outcome });
    expect(count('rest', `PUT ${LOCK_ROUTE}`, 'ok')).toBeGreaterThanOrEqual(1);
    expect(count('rest', `PUT ${LOCK_ROUTE}`, 'GW.POLICY_DENIED')).toBeGreaterThanOrEqual(1);
    expect(count('graphql', 'mutation setBackupVaultLock', 'ok')).toBeGreaterThanOrEqual(1);
    // Refused before the document was read: the route names the operation.
    expect(count('graphql', 'POST /graphql', 'GW.UNAUTHENTICATED')).toBeGreaterThanOrEqual(1);
    const okRest = { channel: 'rest', operation: `PUT ${LOCK_ROUTE}`, outcome: 'ok' };
    expect(
      sampleSum(text, 'gateway_operation_duration_seconds_bucket', { ...okRest, le: '+Inf' }),
    ).toBe(count('rest', `PUT ${LOCK_ROUTE}`, 'ok'));
    expect(sampleSum(text, 'gateway_operation_duration_seconds_sum', okRest)).toBeGreaterThan(0);
  });

  it('names a GraphQL operation by its one root field, or several: callers cannot mint label values', async () => {
    const token = await tokenFor('metrics-vera', []);
    for (const query of [
      'query { __typename }',
      'query { __typename __typename __typename }',
      'query { __typename auditCheckpointKey { keyId } }',
      'query { ... on Query { __typename } }',
    ]) {
      expect((await graphql(h, query, {}, token)).status).toBe(200);
    }

    const operations = new Set(
      [
        ...(await scrape(h)).matchAll(
          /gateway_operation_duration_seconds_count\{[^}]*operation="([^"]*)"/g,
        ),
      ].map(([, operation]) => operation),
    );
    expect(operations).toContain('query __typename');
    expect(operations).toContain('query several');
    expect([...operations].filter((o) => o.includes('__typename'))).toEqual(['query __typename']);
  });

  it('counts and times upstream calls by target and status', async () => {
    const token = await tokenFor('metrics-uma');
    expect((await putLock(token)).status).toBe(200);
    const text = await scrape(h);
    for (const [service, status] of [
      ['iam', '201'],
      ['taurusdb', '200'],
    ]) {
      expect(
        sampleSum(text, 'gateway_upstream_requests_total', { service, status }),
      ).toBeGreaterThanOrEqual(1);
      expect(
        sampleSum(text, 'gateway_upstream_request_duration_seconds_count', { service }),
      ).toBeGreaterThanOrEqual(1);
    }
  });

  it('counts IAM exchanges and token-cache hits', async () => {
    const token = await tokenFor('metrics-carl');
    const exchanged = await growth(
      h,
      'gateway_iam_token_exchanges_total',
      { mode: 'oidc', outcome: 'ok' },
      async () => void (await putLock(token)),
    );
    expect(exchanged).toBe(1);
    const hits = await growth(
      h,
      'gateway_iam_token_cache_total',
      { result: 'hit' },
      async () => void (await rest(h, 'GET', lockPath(projectId, instanceId), { token })),
    );
    expect(hits).toBe(1);
  });

  it('counts policy decisions by rule', async () => {
    const token = await tokenFor('metrics-pia');
    const allowed = await growth(
      h,
      'gateway_policy_decisions_total',
      { allowed: 'true', rule: 'finance-dba' },
      async () => void (await putLock(token)),
    );
    const denied = await growth(
      h,
      'gateway_policy_decisions_total',
      { allowed: 'false', rule: 'none' },
      async () => void (await putLock(token, INSTANCES.marketingProd)),
    );
    expect({ allowed, denied }).toEqual({ allowed: 1, denied: 1 });
  });

  it('times audit writes and shows the attempts open while their upstream call runs', async () => {
    const token = await tokenFor('metrics-abe');
    await injectFault(h, { route: 'taurusdb.putLock', latencyMs: HELD_MS });
    try {
      const answer = putLock(token, INSTANCES.financeStaging, { dryRun: false });
      await until('an open audit attempt', async () =>
        sampleSum(await scrape(h), 'gateway_audit_open_attempts') === 1 ? true : undefined,
      );
      expect((await answer).status).toBe(200);
    } finally {
      await clearFaults(h);
    }
    const text = await scrape(h);
    expect(sampleSum(text, 'gateway_audit_open_attempts')).toBe(0);
    for (const kind of ['attempt', 'outcome', 'sealed']) {
      expect(
        sampleSum(text, 'gateway_audit_write_duration_seconds_count', { kind }),
      ).toBeGreaterThanOrEqual(1);
    }
  });

  it('counts rate-limit refusals by kind of call', async () => {
    const token = await tokenFor('metrics-hal');
    const refused = await growth(
      h,
      'gateway_rate_limit_refusals_total',
      { kind: 'mutations' },
      async () => {
        const statuses = [];
        for (let call = 0; call <= MUTATIONS_PER_MINUTE; call += 1) {
          statuses.push((await putLock(token)).status);
        }
        expect(statuses.at(-1)).toBe(429);
      },
    );
    expect(refused).toBe(1);
  });

  it('counts idempotent replays', async () => {
    const token = await tokenFor('metrics-ida');
    const headers = { 'idempotency-key': `metrics-${Date.now()}` };
    const replays = await growth(h, 'gateway_idempotent_replays_total', {}, async () => {
      const options = { dryRun: false, days: 40, headers };
      expect((await putLock(token, INSTANCES.apacProd, options)).status).toBe(200);
      const again = await putLock(token, INSTANCES.apacProd, options);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
    });
    expect(replays).toBe(1);
  });

  it('counts lock requests entering each state', async () => {
    const token = await tokenFor('metrics-mia', ['marketing-dba']);
    const before = await scrape(h);
    const made = await putLock(token, INSTANCES.marketingProd, { dryRun: false });
    expect(made.status).toBe(202);
    const id = made.body.lock_request_id as string;
    expect(
      (await rest(h, 'POST', `/v1/lock-requests/${id}/cancel`, { token, body: {} })).status,
    ).toBe(200);
    const after = await scrape(h);
    const entered = (state: string) =>
      (sampleSum(after, 'gateway_lock_request_transitions_total', { state }) ?? 0) -
      (sampleSum(before, 'gateway_lock_request_transitions_total', { state }) ?? 0);
    expect({ pending: entered('PENDING_APPROVAL'), cancelled: entered('CANCELLED') }).toEqual({
      pending: 1,
      cancelled: 1,
    });
  });

  it('shows each TaurusDB circuit closed while calls succeed', async () => {
    expect((await putLock(await tokenFor('metrics-cleo'))).status).toBe(200);
    const text = await scrape(h);
    const targets = labelSetsOf(text, 'gateway_circuit_breaker_state').map((l) => l.target);
    expect(targets).toContain(`${h.simulator.url}/cn-north-4`);
    expect(
      sampleSum(text, 'gateway_circuit_breaker_state', { target: `${h.simulator.url}/cn-north-4` }),
    ).toBe(0);
  });
});

describe('the alert rules and the dashboard under deploy/', () => {
  let h: Harness;
  let families: Map<string, string>;
  const rules = (
    parse(readFileSync(ALERT_RULES, 'utf8')) as { groups: { rules: AlertRule[] }[] }
  ).groups.flatMap((group) => group.rules);
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const dashboardExprs = [
    ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr)),
    ...dashboard.templating.list.map((variable) => variable.query),
  ];

  beforeAll(async () => {
    h = await startHarness();
    families = metricFamilies(await scrape(h));
  });
  afterAll(() => h.close());

  /** A family, or a histogram's `_bucket`, `_count` or `_sum`. */
  const exposed = (series: string): boolean => {
    const histogram = /^(.*)_(?:bucket|count|sum)$/.exec(series)?.[1];
    return (
      families.has(series) || (histogram !== undefined && families.get(histogram) === 'histogram')
    );
  };

  it('gives every alert a severity and a summary, and names only series /metrics has', () => {
    expect(rules.length).toBeGreaterThan(10);
    for (const rule of rules) {
      expect({ alert: rule.alert, severity: rule.labels.severity }).toEqual({
        alert: rule.alert,
        severity: expect.stringMatching(/^(critical|warning|info)$/),
      });
      expect(rule.annotations.summary).toEqual(expect.any(String));
      const missing = seriesIn(rule.expr).filter((series) => !exposed(series));
      expect({ alert: rule.alert, missing }).toEqual({ alert: rule.alert, missing: [] });
    }
  });

  it('names only series /metrics has, and charts every series of the gateway', () => {
    const named = dashboardExprs.flatMap(seriesIn);
    expect(named.filter((series) => !exposed(series))).toEqual([]);
    const charted = new Set(named.map((series) => series.replace(/_(bucket|count|sum)$/, '')));
    const own = [...families.keys()].filter((family) => /^(gateway|vault_lock)_/.test(family));
    expect(own.filter((family) => !charted.has(family))).toEqual([]);
  });
});

describe('the circuit-breaker gauge', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      TAURUSDB_BREAKER_THRESHOLD: '1',
      TAURUSDB_BREAKER_HALF_OPEN_MS: '600000',
    });
  });
  afterAll(() => h.close());

  it('shows the circuit open once TaurusDB fails', async () => {
    const token = await h.simulator.mintToken({ sub: 'metrics-bea', groups: ['dba'] });
    await injectFault(h, { route: 'taurusdb.instance', status: 503 });
    const { projectId, id } = INSTANCES.financeProd;
    const answer = await rest(h, 'PUT', `${lockPath(projectId, id)}?dry_run=true`, {
      token,
      body: lockBody('enable', 30),
    });
    expect([502, 503]).toContain(answer.status);
    const text = await scrape(h);
    expect(
      sampleSum(text, 'gateway_circuit_breaker_state', { target: `${h.simulator.url}/cn-north-4` }),
    ).toBe(1);
  });
});
