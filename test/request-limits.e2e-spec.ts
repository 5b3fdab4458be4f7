// Proves: oversized headers get 431 in the contract's error shape; a client that stalls or
// trickles its request is cut off by HTTP_REQUEST_TIMEOUT_MS; GraphQL documents over the depth,
// alias or size limit are refused as BAD_USER_INPUT before any upstream call, and those at the
// limit are accepted. (413, batching, introspection and CSRF: invalid-input and operations suites.)
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MAX_JSON_NESTING } from '../src/bootstrap/json-body.js';
import { DOCUMENT_LIMITS } from '../src/common/graphql/document-limits.rule.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  graphql,
  injectFault,
  lockBody,
  lockPath,
  rest,
  upstreamCalls,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const { projectId, id: instanceId } = INSTANCES.financeProd;
const REQUEST_TIMEOUT_MS = 1000;
/**
 * Far longer than the held PUT below: no call here is meant to time out upstream, and a stall of
 * the machine must not turn the held PUT into a 504.
 */
const UPSTREAM_TIMEOUT_MS = 10_000;

/**
 * Opens a connection, sends `first`, then one byte of `trickle` every `everyMs` (none if empty),
 * and resolves with what the server wrote once it closes the connection.
 */
function slowClient(url: string, first: string, trickle: string, everyMs: number): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let received = '';
    let sent = 0;
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(first));
    const timer = setInterval(() => {
      if (sent < trickle.length && socket.writable) socket.write(trickle[sent++]);
    }, everyMs);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      clearInterval(timer);
      resolve(received);
    });
  });
}

describe('request limits', () => {
  let h: Harness;
  let token: string;
  let logFile: string;

  beforeAll(async () => {
    h = await startHarness({
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
    });
    logFile = process.env.LOG_FILE as string;
    token = await h.simulator.mintToken({ sub: 'lima', groups: ['dba'] });
    h.simulator.reset();
  });
  afterAll(() => h.close());

  it('answers 431 in the contract shape to headers over 16 KB, and keeps serving', async () => {
    const answer = await rest(h, 'GET', lockPath(projectId, instanceId), {
      token,
      headers: { 'x-padding': 'x'.repeat(17 * 1024) },
    });
    expect(answer.status).toBe(431);
    expect(answer.body).toEqual({
      error_code: 'GW.VALIDATION',
      error_msg: expect.stringContaining('headers'),
      request_id: answer.headers.get('x-request-id'),
    });
    expect(upstreamCalls(h)).toBe(0);
    expect((await fetch(`${h.url}/health/live`)).status).toBe(200);
  });

  it('cuts off a client that stops half-way through its headers', async () => {
    const started = Date.now();
    const received = await slowClient(h.url, 'GET /health/live HTTP/1.1\r\nHost: x\r\n', '', 100);
    // Well past the timeout, and far short of Node's own defaults (60 s, 300 s).
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS * 8);
    expect(received).not.toContain('200 OK');
  });

  it('cuts off a client that trickles its headers, with 408 in the contract shape', async () => {
    const started = Date.now();
    const trickle = `${'X-Slow: y\r\n'.repeat(20)}\r\n`;
    const received = await slowClient(
      h.url,
      'GET /health/live HTTP/1.1\r\nHost: x\r\n',
      trickle,
      150,
    );
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS * 8);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(received).toContain('"error_code":"GW.VALIDATION"');
  });

  it('cuts off a client that trickles its body', async () => {
    const body = JSON.stringify({ padding: 'x'.repeat(100) });
    const head =
      `PUT ${lockPath(projectId, instanceId)}?dry_run=true HTTP/1.1\r\nHost: x\r\n` +
      `Authorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`;
    const started = Date.now();
    const received = await slowClient(h.url, head, body, 150);
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS * 8);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(upstreamCalls(h)).toBe(0);
  });

  const showLock = (alias = '') =>
    `${alias}backupVaultLock(projectId: "${projectId}", instanceId: "${instanceId}") { enabled }`;
  /** Introspection nests as deep as one likes (`ofType` one level at a time), so it measures depth with real fields. */
  const nestedTypeQuery = (depth: number) =>
    `{ __schema { types { ${'ofType { '.repeat(depth - 3)}name${' }'.repeat(depth - 3)} } } }`;

  async function expectRefused(query: string, limit: string) {
    const before = upstreamCalls(h);
    const answer = await graphql(h, query, {}, token);
    expect(answer.status).toBe(400);
    expect(answer.errors?.map((e) => e.message).join(' ')).toContain(limit);
    expect(answer.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errorCode: 'GW.VALIDATION',
      requestId: expect.any(String),
    });
    expect(upstreamCalls(h) - before).toBe(0);
  }

  it('lets a caller wait for a mutation that takes longer upstream than the request timeout', async () => {
    // The request arrived in time; only sending it is timed. Cutting the socket here would leave
    // the caller without the answer to an irreversible call that went through.
    await injectFault(h, {
      route: 'taurusdb.putLock',
      latencyMs: REQUEST_TIMEOUT_MS * 1.5,
      times: 1,
    });
    const answer = await rest(h, 'PUT', lockPath(projectId, instanceId), {
      token,
      body: lockBody('enable', 3),
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-audit-id')).toBeTruthy();
    h.simulator.reset();
  });

  it('answers malformed percent-encoding and over-long path parameters in the contract shape', async () => {
    for (const [path, status] of [
      [`/v3/%zz/instances/${instanceId}/backups/vault-lock`, 400],
      [lockPath('p'.repeat(200), instanceId), 414],
    ] as const) {
      const answer = await rest(h, 'GET', path, { token });
      expect({ path, status: answer.status }).toEqual({ path, status });
      expect(answer.body).toEqual({
        error_code: 'GW.VALIDATION',
        error_msg: expect.stringContaining('path'),
        request_id: answer.headers.get('x-request-id'),
      });
      expect(JSON.stringify(answer.body)).not.toContain('ppppp');
    }
    expect(upstreamCalls(h)).toBe(0);
  });

  it(`refuses GraphQL deeper than ${DOCUMENT_LIMITS.maxDepth}, also through fragments`, async () => {
    const atLimit = await graphql(h, nestedTypeQuery(DOCUMENT_LIMITS.maxDepth), {}, token);
    expect(atLimit.errors).toBeUndefined();
    await expectRefused(nestedTypeQuery(DOCUMENT_LIMITS.maxDepth + 1), 'query depth limit');
    await expectRefused(
      `{ __schema { types { ...F } } } fragment F on __Type { fields { type { fields { type { fields { type { name } } } } } } }`,
      'query depth limit',
    );
  });

  it(`refuses more than ${DOCUMENT_LIMITS.maxAliases} aliases before any of them goes upstream`, async () => {
    const aliased = (n: number) =>
      `{ ${Array.from({ length: n }, (_, i) => showLock(`a${i}: `)).join(' ')} }`;
    await expectRefused(aliased(DOCUMENT_LIMITS.maxAliases + 1), 'alias limit');
    // Spread twice, a fragment's aliases count twice: that is how often they would run.
    const half = Math.ceil((DOCUMENT_LIMITS.maxAliases + 1) / 2);
    await expectRefused(
      `{ ...F ...F } fragment F on Query { ${Array.from({ length: half }, (_, i) => `t${i}: __typename`).join(' ')} }`,
      'alias limit',
    );
    const atLimit = await graphql(h, aliased(DOCUMENT_LIMITS.maxAliases), {}, token);
    expect(atLimit.errors).toBeUndefined();
  });

  it(`refuses a document over ${DOCUMENT_LIMITS.maxQueryBytes} bytes`, async () => {
    const padded = (bytes: number) => {
      const query = `{ ${showLock()} }`;
      return `${query}#${'p'.repeat(bytes - query.length - 1)}`;
    };
    await expectRefused(padded(DOCUMENT_LIMITS.maxQueryBytes + 1), 'query size limit');
    const atLimit = await graphql(h, padded(DOCUMENT_LIMITS.maxQueryBytes), {}, token);
    expect(atLimit.errors).toBeUndefined();
  });

  /** JSON nested `depth` levels deep, objects or arrays, around a valid leaf. */
  const deepest = { object: 2500, array: 5000 } as const;
  const nestedJson = (depth: number, kind: 'object' | 'array') =>
    kind === 'object'
      ? `${'{"":'.repeat(depth)}1${'}'.repeat(depth)}`
      : `${'['.repeat(depth)}1${']'.repeat(depth)}`;

  async function postGraphql(body: string) {
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    const answer = (await response.json()) as {
      data?: unknown;
      errors?: { message: string; extensions?: Record<string, unknown> }[];
    };
    return { status: response.status, requestId: response.headers.get('x-request-id'), ...answer };
  }

  it(`refuses a REST body nested deeper than ${MAX_JSON_NESTING} levels with 400, up to 5,000 levels, before parsing it`, async () => {
    const before = upstreamCalls(h);
    for (const kind of ['object', 'array'] as const) {
      for (const depth of [MAX_JSON_NESTING, deepest[kind]]) {
        const answer = await rest(h, 'PUT', `${lockPath(projectId, instanceId)}?dry_run=true`, {
          token,
          rawBody: `{"backup_vaultlock_info":${nestedJson(depth - 1, kind)},"action":"enable"}`,
        });
        expect({ kind, depth, status: answer.status }).toEqual({ kind, depth, status: 400 });
        expect(answer.body.error_code).toBe('GW.VALIDATION');
      }
      const deep = await rest(h, 'PUT', lockPath(projectId, instanceId), {
        token,
        rawBody: `{"backup_vaultlock_info":${nestedJson(MAX_JSON_NESTING, kind)}}`,
      });
      expect(deep.body.error_msg).toBe(
        `body: must not nest objects and arrays more than ${MAX_JSON_NESTING} levels deep`,
      );
    }
    // Brackets inside strings are text, not nesting.
    const inString = await rest(h, 'PUT', `${lockPath(projectId, instanceId)}?dry_run=true`, {
      token,
      rawBody: JSON.stringify({ ...lockBody('enable', 3), action: `${'['.repeat(5000)}\\"{` }),
    });
    expect(inString.status).toBe(400);
    expect(inString.body.error_msg).toContain('action');
    expect(upstreamCalls(h) - before).toBe(0);
  });

  it('refuses GraphQL variables nested 5,000 levels deep as BAD_USER_INPUT, with its request id', async () => {
    const before = upstreamCalls(h);
    for (const kind of ['object', 'array'] as const) {
      const answer = await postGraphql(
        `{"query":"query Show($projectId: ID!, $instanceId: ID!) { backupVaultLock(projectId: $projectId, instanceId: $instanceId) { enabled } }","variables":{"projectId":${nestedJson(deepest[kind], kind)},"instanceId":"${instanceId}"}}`,
      );
      expect(answer.status).toBe(400);
      expect(answer.errors?.[0].message).toContain('levels deep');
      expect(answer.errors?.[0].extensions).toEqual({
        code: 'BAD_USER_INPUT',
        errorCode: 'GW.VALIDATION',
        requestId: answer.requestId,
      });
    }
    expect(upstreamCalls(h) - before).toBe(0);
  });

  it(`refuses a GraphQL document nested deeper than ${DOCUMENT_LIMITS.maxNesting} levels before parsing it, up to 7,000 levels`, async () => {
    const argument = (value: string) =>
      `{ backupVaultLock(projectId: ${value}, instanceId: "${instanceId}") { enabled } }`;
    const before = upstreamCalls(h);
    const documents = [
      argument(`${'['.repeat(7000)}"x"${']'.repeat(7000)}`),
      argument(`${'{a:'.repeat(5000)}1`),
      `${'{ a '.repeat(3000)}`,
      argument(
        `${'['.repeat(DOCUMENT_LIMITS.maxNesting)}"x"${']'.repeat(DOCUMENT_LIMITS.maxNesting)}`,
      ),
    ];
    for (const query of documents) {
      const answer = await postGraphql(JSON.stringify({ query }));
      expect({ length: query.length, status: answer.status }).toEqual({
        length: query.length,
        status: 400,
      });
      expect(answer.errors?.[0].message).toContain('query nesting limit');
      expect(answer.errors?.[0].extensions).toEqual({
        code: 'BAD_USER_INPUT',
        errorCode: 'GW.VALIDATION',
        requestId: answer.requestId,
      });
    }
    // At the limit the document is parsed, and refused for what it says instead.
    const atLimit = await postGraphql(
      JSON.stringify({
        query: argument(
          `${'['.repeat(DOCUMENT_LIMITS.maxNesting - 3)}"x"${']'.repeat(DOCUMENT_LIMITS.maxNesting - 3)}`,
        ),
      }),
    );
    expect(atLimit.status).toBe(400);
    expect(atLimit.errors?.[0].message).not.toContain('nesting');
    // Brackets in strings and comments are not nesting.
    const commented = await postGraphql(
      JSON.stringify({
        query: `{ __typename } # ${'['.repeat(3000)}\n`,
      }),
    );
    expect(commented).toMatchObject({ status: 200, data: { __typename: 'Query' } });
    expect(upstreamCalls(h) - before).toBe(0);
  });

  it('refuses GraphQL variables nested 2,000 levels deep in a GET query string as BAD_USER_INPUT', async () => {
    const variables = `{"projectId":${nestedJson(2000, 'array')},"instanceId":"${instanceId}"}`;
    const query =
      'query Show($projectId: ID!, $instanceId: ID!) { backupVaultLock(projectId: $projectId, instanceId: $instanceId) { enabled } }';
    const response = await fetch(
      `${h.url}/graphql?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(variables)}`,
      { headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' } },
    );
    expect(response.status).toBe(400);
    const answer = (await response.json()) as {
      errors?: { extensions?: Record<string, unknown> }[];
    };
    expect(answer.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      requestId: expect.any(String),
    });
  });

  it('wrote no stack overflow and no 500 to the log while refusing all of that', () => {
    const log = readFileSync(logFile, 'utf8');
    expect(log).not.toMatch(/RangeError|Maximum call stack|"statusCode":500/);
  });
});
