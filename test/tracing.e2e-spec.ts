import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { graphql, lockBody, lockPath, rest, SET_LOCK_MUTATION } from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';
import { readLogLines } from './support/log-file.js';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.js';
import { until } from '../src/common/testing/polling.js';
import { SECRET_PATTERNS } from './support/global-teardown.js';

const LOCK_ROUTE = '/v3/:project_id/instances/:instance_id/backups/vault-lock';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

/** The tree of a trace by span name, each child under its parent; leaves first, each sorted. */
function treeOf(spans: ReceivedSpan[], parentSpanId?: string): unknown[] {
  return spans
    .filter((span) => (span.parentSpanId || undefined) === parentSpanId)
    .map((span) => {
      const children = treeOf(spans, span.spanId);
      return children.length > 0 ? { [span.name]: children } : span.name;
    })
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

describe('traces', () => {
  const receiver = new OtlpReceiver(true);
  let h: Harness;
  const { projectId, id: instanceId } = INSTANCES.financeProd;

  beforeAll(async () => {
    const endpoint = await receiver.listen();
    h = await startHarness({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_SERVICE_NAME: 'gateway-under-test',
      // Spans leave in batches; a short delay keeps the test from waiting on the default 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
  });
  afterAll(async () => {
    await h.close();
    await receiver.close();
  });

  /** The trace whose server span answered `requestId`, once its spans have all arrived. */
  const traceOf = (requestId: string, spans: number) =>
    until(
      `the ${spans} spans of request ${requestId}`,
      async () => {
        const root = receiver.spans.find((s) => s.attributes['gateway.request_id'] === requestId);
        const trace = root && receiver.trace(root.traceId);
        return trace && trace.length >= spans ? { root, trace } : undefined;
      },
      10_000,
    );

  it('traces a REST mutation as one tree, its id in the upstream call, the audit row and the log', async () => {
    const token = await h.simulator.mintToken({ sub: 'trace-rita', groups: ['dba'] });
    const answer = await rest(h, 'PUT', lockPath(projectId, instanceId), {
      token,
      body: lockBody('enable', 30),
    });
    expect(answer.status).toBe(200);
    const requestId = answer.headers.get('x-request-id') ?? '';

    const { root, trace } = await traceOf(requestId, 9);
    expect(trace).toHaveLength(9);
    expect(treeOf(trace)).toEqual([
      {
        [`PUT ${LOCK_ROUTE}`]: [
          'audit attempt',
          'audit outcome',
          'iam token',
          'policy decision',
          'taurusdb getInstance',
          'taurusdb setVaultLock',
          { 'iam token': ['iam oidc'] },
        ],
      },
    ]);
    expect(root.attributes).toMatchObject({
      'http.route': LOCK_ROUTE,
      'http.request.method': 'PUT',
      'http.response.status_code': 200,
      'gateway.channel': 'rest',
      'gateway.outcome': 'ok',
      'enduser.id': `${h.simulator.idpIssuer}#trace-rita`,
    });
    const named = (name: string) => trace.filter((span) => span.name === name);
    expect(
      named('iam token')
        .map((span) => span.attributes['gateway.iam.cache'])
        .sort(),
    ).toEqual(['hit', 'miss']);
    expect(named('policy decision')[0].attributes).toMatchObject({
      'gateway.policy.rule': 'finance-dba',
      'gateway.policy.allowed': true,
    });
    expect(named('taurusdb setVaultLock')[0].attributes).toMatchObject({
      'http.request.method': 'PUT',
      'http.response.status_code': 200,
      'gateway.upstream.service': 'taurusdb',
    });
    expect(receiver.serviceNames).toEqual(new Set(['gateway-under-test']));

    // IAM and TaurusDB received the trace context of the client span that called them.
    const clientSpans = new Map(
      trace
        .filter((span) => span.name.startsWith('iam ') || span.name.startsWith('taurusdb '))
        .map((span) => [span.spanId, span.name]),
    );
    const received = h.simulator
      .traceContexts()
      .map(({ route, traceparent }) => ({ route, match: TRACEPARENT.exec(traceparent ?? '') }))
      .filter(({ match }) => match?.[1] === root.traceId);
    expect(received.map(({ route, match }) => [route, clientSpans.get(match?.[2] ?? '')])).toEqual([
      ['iam.oidc', 'iam oidc'],
      ['taurusdb.instance', 'taurusdb getInstance'],
      ['taurusdb.putLock', 'taurusdb setVaultLock'],
    ]);

    const auditor = await h.simulator.mintToken({ sub: 'trace-tia', groups: ['auditor'] });
    const audit = await rest<{ events: Record<string, unknown>[] }>(
      h,
      'GET',
      `/v1/audit-events?project_id=${projectId}&instance_id=${instanceId}&limit=1`,
      { token: auditor },
    );
    expect(audit.body.events[0]).toMatchObject({ request_id: requestId, trace_id: root.traceId });

    const lines = readLogLines(h.logFile).filter((line) => line.reqId === requestId);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.every((line) => line.traceId === root.traceId)).toBe(true);

    const exported = receiver.bodies.join('\n');
    expect(exported).not.toContain(token);
    for (const [secret, pattern] of Object.entries(SECRET_PATTERNS)) {
      expect({ secret, found: pattern.test(exported) }).toEqual({ secret, found: false });
    }
  });

  it('continues the caller’s trace for a GraphQL mutation, and traces no probe', async () => {
    const token = await h.simulator.mintToken({ sub: 'trace-gil', groups: ['dba'] });
    const callerTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpanId = '00f067aa0ba902b7';
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        traceparent: `00-${callerTraceId}-${callerSpanId}-01`,
        baggage: 'chosen=by-the-caller',
      },
      body: JSON.stringify({
        query: SET_LOCK_MUTATION,
        variables: {
          input: { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 30, dryRun: true },
        },
      }),
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id') ?? '';

    const { root, trace } = await traceOf(requestId, 6);
    expect(root).toMatchObject({ traceId: callerTraceId, parentSpanId: callerSpanId });
    // The caller's trace goes on to IAM and TaurusDB; what it put in `baggage` does not.
    const upstream = h.simulator
      .traceContexts()
      .filter(({ traceparent }) => traceparent?.includes(callerTraceId));
    expect(upstream.length).toBeGreaterThan(0);
    expect(upstream.map(({ baggage }) => baggage)).toEqual(upstream.map(() => null));
    expect(treeOf(trace, callerSpanId)).toEqual([
      {
        'POST /graphql': [
          'audit sealed',
          'policy decision',
          'taurusdb getInstance',
          { 'iam token': ['iam oidc'] },
        ],
      },
    ]);
    expect(root.attributes).toMatchObject({
      'gateway.channel': 'graphql',
      'gateway.operation': 'mutation setBackupVaultLock',
      'gateway.outcome': 'ok',
    });

    // A refused call is traced too; spans leave in the order they end, so once its span is
    // in, the probe's would be.
    expect((await fetch(`${h.url}/health/live`)).status).toBe(200);
    const refused = await graphql(h, SET_LOCK_MUTATION, {}, token);
    expect(refused.status).toBe(400);
    const { root: refusedRoot } = await traceOf(refused.headers.get('x-request-id') ?? '', 1);
    expect(refusedRoot.attributes).toMatchObject({ 'http.response.status_code': 400 });
    expect(
      receiver.spans.filter((span) => span.attributes['http.route'] === '/health/live'),
    ).toEqual([]);
  });

  it('traces each item of a bulk job in a trace of its own, not in the call that created it', async () => {
    const token = await h.simulator.mintToken({ sub: 'trace-bea', groups: ['dba'] });
    const created = await rest<{ id: string }>(h, 'POST', '/v1/bulk-locks', {
      token,
      body: {
        project_id: projectId,
        selector: { tags: [{ key: 'owner', value: 'alice' }] },
        action: 'enable',
        lock_retention_days: 30,
        dry_run: true,
      },
    });
    expect(created.status).toBe(202);
    const { root: creating } = await traceOf(created.headers.get('x-request-id') ?? '', 1);

    const items = await until('the spans of the bulk job’s items', async () => {
      const found = receiver.spans.filter(
        (span) =>
          span.name === 'bulk item' && span.attributes['gateway.bulk_job_id'] === created.body.id,
      );
      return found.length > 0 && found.every((item) => receiver.trace(item.traceId).length > 2)
        ? found
        : undefined;
    });
    for (const item of items) {
      expect(item.parentSpanId || undefined).toBeUndefined();
      expect(item.traceId).not.toBe(creating.traceId);
      const below = treeOf(receiver.trace(item.traceId), item.spanId);
      expect(below).toEqual(expect.arrayContaining(['audit sealed', 'policy decision']));
    }
  });
});
