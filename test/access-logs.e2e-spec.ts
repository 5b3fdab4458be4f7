// Proves that every call leaves exactly one access line (method, route, status, duration, request
// id, principal, channel; never a query string), and that every warning or error logged while a
// call runs carries that call's request id.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  graphql,
  injectFault,
  lockBody,
  lockPath,
  rest,
  SHOW_LOCK_QUERY,
  type HttpAnswer,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';
import { readLogLines, waitForLogLines, type LogLine } from './support/log-file.js';
import { rawHttp, rawRequest } from './support/raw-http.js';

const ACCESS = 'request completed';
const LOCK_ROUTE = '/v3/:project_id/instances/:instance_id/backups/vault-lock';
const WARN = 40;

describe('access logs', () => {
  let h: Harness;
  let token: string;
  let principal: string;
  const { projectId, id: instanceId } = INSTANCES.financeProd;
  const path = lockPath(projectId, instanceId);
  /** Request id of every call made here, so that every line can be matched to its call. */
  const requestIds = new Set<string>();

  beforeAll(async () => {
    h = await startHarness();
    token = await h.simulator.mintToken({ sub: 'log-reader', groups: ['dba'] });
    principal = `${h.simulator.idpIssuer}#log-reader`;
  });
  afterAll(() => h.close());

  /** The gateway's id for a call: in the error body, else in the header (none was sent). */
  function requestIdOf(answer: { headers: Headers; body?: unknown }): string {
    const body = answer.body as { request_id?: string } | undefined;
    const id = body?.request_id ?? answer.headers.get('x-request-id');
    if (!id) throw new Error('answer without a request id');
    requestIds.add(id);
    return id;
  }

  async function accessLinesOf(requestId: string): Promise<LogLine[]> {
    return waitForLogLines(h.logFile, (line) => line.msg === ACCESS && line.reqId === requestId);
  }

  const calls: [string, () => Promise<HttpAnswer>, Record<string, unknown>][] = [
    [
      'a REST PUT',
      () => rest(h, 'PUT', `${path}?dry_run=true`, { token, body: lockBody('enable', 30) }),
      { method: 'PUT', route: LOCK_ROUTE, path, status: 200, channel: 'rest', principal: true },
    ],
    [
      'a REST GET, whose query string is never logged',
      () => rest(h, 'GET', `${path}?access_token=s3cr3t-in-query`, { token }),
      { method: 'GET', route: LOCK_ROUTE, path, status: 200, channel: 'rest', principal: true },
    ],
    [
      'a GraphQL query',
      async () => {
        const answer = await graphql(h, SHOW_LOCK_QUERY, { projectId, instanceId }, token);
        return { status: answer.status, headers: answer.headers, body: {} };
      },
      { method: 'POST', route: '/graphql', status: 200, channel: 'graphql', principal: true },
    ],
    [
      'a health check',
      () => rest(h, 'GET', '/health/live'),
      { method: 'GET', route: '/health/live', status: 200, channel: 'ops', principal: false },
    ],
    [
      'an unknown route',
      () => rest(h, 'GET', '/v9/nothing/here', { token }),
      {
        method: 'GET',
        route: 'unmatched',
        path: '/v9/nothing/here',
        status: 404,
        principal: false,
      },
    ],
    [
      'a call without a token (401)',
      () => rest(h, 'GET', path),
      { method: 'GET', route: LOCK_ROUTE, status: 401, channel: 'rest', principal: false },
    ],
    [
      'an invalid body (400)',
      () => rest(h, 'PUT', path, { token, body: lockBody('enable', 0) }),
      { method: 'PUT', route: LOCK_ROUTE, status: 400, channel: 'rest' },
    ],
    [
      'a path the router refuses (bad percent-encoding)',
      () => rest(h, 'GET', '/v3/%E0%A4%A/instances/x/backups/vault-lock', { token }),
      { method: 'GET', status: 400, principal: false },
    ],
    [
      'a body over the size limit (413)',
      () => rest(h, 'PUT', path, { token, rawBody: `{"x":"${'y'.repeat(20_000)}"}` }),
      { method: 'PUT', route: LOCK_ROUTE, status: 413, principal: false },
    ],
  ];

  it.each(calls)('writes exactly one access line for %s', async (_name, call, expected) => {
    const answer = await call();
    expect(answer.status).toBe(expected.status);
    const requestId = requestIdOf(answer);
    const lines = await accessLinesOf(requestId);
    expect(lines).toHaveLength(1);
    const [line] = lines;
    const { principal: authenticated, ...fields } = expected;
    expect(line).toMatchObject(fields);
    expect(line.durationMs).toEqual(expect.any(Number));
    if (authenticated === true) expect(line.principal).toBe(principal);
    if (authenticated === false) expect(line.principal).toBeUndefined();
    expect(JSON.stringify(line)).not.toContain('?');
    expect(line.level).toBe(expected.status === 200 ? 30 : WARN);
  });

  it('writes one access line for a request Node refuses before Fastify sees it (431)', async () => {
    const answer = await rawHttp(
      h.url,
      rawRequest('GET', '/health/live', { 'x-padding': 'p'.repeat(20_000) }),
    );
    expect(answer.status).toBe(431);
    const requestId = answer.headers['x-request-id'];
    requestIds.add(requestId);
    const lines = await accessLinesOf(requestId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 431, route: 'unmatched', level: WARN });
    expect(JSON.stringify(lines[0])).not.toContain('ppp');
  });

  it('keeps the caller correlation id beside the gateway request id', async () => {
    const answer = await rest(h, 'GET', path, {
      token,
      headers: { 'x-request-id': 'caller-trace-0042' },
    });
    expect(answer.headers.get('x-request-id')).toBe('caller-trace-0042');
    const [line] = await waitForLogLines(
      h.logFile,
      (l) => l.msg === ACCESS && l.correlationId === 'caller-trace-0042',
    );
    expect(line.reqId).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    requestIds.add(line.reqId as string);
  });

  it('gives the warnings of a failing upstream call the request id of that call', async () => {
    await injectFault(h, { route: 'taurusdb.putLock', status: 503, times: 1 });
    const failed = await rest(h, 'PUT', path, { token, body: lockBody('enable', 30) });
    expect(failed.status).toBe(502);
    const requestId = requestIdOf(failed);
    const warnings = await waitForLogLines(
      h.logFile,
      (line) => line.level >= WARN && line.reqId === requestId && line.msg !== ACCESS,
    );
    expect(warnings.map((line) => line.msg)).toEqual(
      expect.arrayContaining([expect.stringContaining('GW.UPSTREAM_ERROR')]),
    );
  });

  it('gives the warnings of a failing IAM exchange the request id of that call', async () => {
    const newcomer = await h.simulator.mintToken({ sub: 'log-newcomer', groups: ['dba'] });
    await injectFault(h, { route: 'iam.oidc', status: 500, times: 3 });
    const failed = await rest(h, 'PUT', `${path}?dry_run=true`, {
      token: newcomer,
      body: lockBody('enable', 30),
    });
    expect(failed.status).toBe(503);
    const requestId = requestIdOf(failed);
    const warnings = await waitForLogLines(
      h.logFile,
      (line) => line.level >= WARN && line.reqId === requestId && line.msg !== ACCESS,
    );
    expect(warnings.map((line) => line.msg)).toEqual(
      expect.arrayContaining([expect.stringContaining('IAM oidc token exchange failed')]),
    );
  });

  it('never logs a warning or an error outside the call it belongs to', () => {
    const lines = readLogLines(h.logFile).filter((line) => line.level >= WARN);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(requestIds).toContain(line.reqId);
    expect(readLogLines(h.logFile).filter((line) => line.msg === ACCESS)).toHaveLength(
      requestIds.size,
    );
  });
});
