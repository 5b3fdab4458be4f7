import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  graphql,
  lockBody,
  lockPath,
  rest,
  SET_LOCK_MUTATION,
  upstreamCalls,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const { projectId: P, id: I } = INSTANCES.financeProd;
const good = lockBody('enable', 30);

interface RestCase {
  name: string;
  path?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  status?: number;
  field: string;
}

const restCases: RestCase[] = [
  { name: 'project id of 31 characters', path: lockPath(P.slice(1), I), field: 'project_id' },
  { name: 'project id of 33 characters', path: lockPath(`${P}a`, I), field: 'project_id' },
  { name: 'project id with a dash', path: lockPath(`${P.slice(1)}-`, I), field: 'project_id' },
  {
    name: 'instance id not ending in in07',
    path: lockPath(P, `${I.slice(0, 32)}in08`),
    field: 'instance_id',
  },
  { name: 'instance id of 35 characters', path: lockPath(P, I.slice(1)), field: 'instance_id' },
  {
    name: 'instance id with an encoded slash',
    path: lockPath(P, `${I.slice(0, 29)}%2Fin07`),
    field: 'instance_id',
  },
  {
    name: 'instance id with dot-dot',
    path: lockPath(P, `${I.slice(0, 30)}..in07`),
    field: 'instance_id',
  },
  { name: 'retention 0', body: lockBody('enable', 0), field: 'lock_retention_days' },
  { name: 'retention 36501', body: lockBody('enable', 36501), field: 'lock_retention_days' },
  { name: 'retention 1.5', body: lockBody('enable', 1.5), field: 'lock_retention_days' },
  {
    name: 'retention as a string',
    body: lockBody('enable', '30' as unknown as number),
    field: 'lock_retention_days',
  },
  {
    name: 'retention missing',
    body: { backup_vaultlock_info: { lock_policy: true }, action: 'enable' },
    field: 'lock_retention_days',
  },
  { name: 'lock_policy false', body: lockBody('enable', 30, false), field: 'lock_policy' },
  { name: 'lock_policy "true"', body: lockBody('enable', 30, 'true'), field: 'lock_policy' },
  {
    name: 'lock_policy missing',
    body: { backup_vaultlock_info: { lock_retention_days: 30 }, action: 'enable' },
    field: 'lock_policy',
  },
  { name: 'action disable', body: lockBody('disable', 30), field: 'action' },
  {
    name: 'action missing',
    body: { backup_vaultlock_info: good.backup_vaultlock_info },
    field: 'action',
  },
  { name: 'action a number', body: lockBody(5 as unknown as string, 30), field: 'action' },
  { name: 'unknown top-level field', body: { ...good, force: true }, field: 'force' },
  {
    name: 'unknown nested field',
    body: { ...good, backup_vaultlock_info: { ...good.backup_vaultlock_info, extra: 1 } },
    field: 'extra',
  },
  {
    name: 'info not an object',
    body: { ...good, backup_vaultlock_info: 'x' },
    field: 'backup_vaultlock_info',
  },
  { name: 'body an array', body: [good], field: 'body' },
  { name: 'body a bare number', rawBody: '42', field: 'body' },
  { name: 'body not JSON', rawBody: '{"action":', field: 'body' },
  { name: 'dry_run=yes', path: `${lockPath(P, I)}?dry_run=yes`, body: good, field: 'dry_run' },
  {
    name: 'unknown query parameter',
    path: `${lockPath(P, I)}?force=1`,
    body: good,
    field: 'force',
  },
  {
    name: 'text/plain body',
    rawBody: JSON.stringify(good),
    headers: { 'content-type': 'text/plain' },
    status: 415,
    field: 'content-type',
  },
  {
    name: 'body over 16 KB',
    body: { ...good, padding: 'x'.repeat(17 * 1024) },
    status: 413,
    field: 'body',
  },
];

const gqlInput = { projectId: P, instanceId: I, action: 'ENABLE', lockRetentionDays: 30 };
const gqlCases: { name: string; input: Record<string, unknown>; field: string }[] = [
  { name: 'short projectId', input: { ...gqlInput, projectId: P.slice(2) }, field: 'projectId' },
  {
    name: 'projectId with a slash',
    input: { ...gqlInput, projectId: `${P.slice(1)}/` },
    field: 'projectId',
  },
  {
    name: 'instanceId wrong suffix',
    input: { ...gqlInput, instanceId: `${I.slice(0, 32)}in70` },
    field: 'instanceId',
  },
  {
    name: 'lockRetentionDays 0',
    input: { ...gqlInput, lockRetentionDays: 0 },
    field: 'lockRetentionDays',
  },
  {
    name: 'lockRetentionDays 36501',
    input: { ...gqlInput, lockRetentionDays: 36501 },
    field: 'lockRetentionDays',
  },
  {
    name: 'lockRetentionDays 2.5',
    input: { ...gqlInput, lockRetentionDays: 2.5 },
    field: 'lockRetentionDays',
  },
  {
    name: 'lockRetentionDays a string',
    input: { ...gqlInput, lockRetentionDays: '30' },
    field: 'lockRetentionDays',
  },
  { name: 'lockPolicy false', input: { ...gqlInput, lockPolicy: false }, field: 'lockPolicy' },
  { name: 'action DISABLE', input: { ...gqlInput, action: 'DISABLE' }, field: 'action' },
  {
    name: 'instanceId missing',
    input: { projectId: P, action: 'ENABLE', lockRetentionDays: 30 },
    field: 'instanceId',
  },
  { name: 'unknown field', input: { ...gqlInput, force: true }, field: 'force' },
];

describe('invalid input is refused before anything goes upstream', () => {
  let h: Harness;
  let token: string;

  beforeAll(async () => {
    h = await startHarness();
    token = await h.simulator.mintToken({ sub: 'ivan', groups: ['dba'] });
    // The JWKS fetch is the only call the simulator may see from here on.
    h.simulator.reset();
  });
  afterAll(() => h.close());

  it.each(restCases)('REST: $name → 4xx naming $field', async (c) => {
    const answer = await rest(h, 'PUT', c.path ?? lockPath(P, I), {
      token,
      body: c.body ?? (c.rawBody === undefined ? good : undefined),
      rawBody: c.rawBody,
      headers: c.headers,
    });
    expect(answer.status).toBe(c.status ?? 400);
    expect(answer.body.error_code).toBe(
      c.status === 413 ? 'GW.PAYLOAD_TOO_LARGE' : 'GW.VALIDATION',
    );
    expect(String(answer.body.error_msg)).toContain(c.field);
    expect(answer.body.request_id).toBeTruthy();
    expect(upstreamCalls(h)).toBe(0);
  });

  it.each(gqlCases)('GraphQL: $name → BAD_USER_INPUT naming $field', async (c) => {
    const answer = await graphql(h, SET_LOCK_MUTATION, { input: c.input }, token);
    expect(answer.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errorCode: 'GW.VALIDATION',
    });
    expect(answer.errors?.[0].extensions?.requestId).toBeTruthy();
    expect(answer.errors?.[0].message).toContain(c.field);
    expect(upstreamCalls(h)).toBe(0);
  });

  it.each([
    {
      name: 'a __proto__ key in the variables',
      contentType: 'application/json',
      body: `{"query":${JSON.stringify(SET_LOCK_MUTATION)},"variables":{"input":{"lockPolicy":{"__proto__":""}}}}`,
      status: 400,
      field: 'body',
    },
    {
      name: 'a body that is not JSON',
      contentType: 'application/json',
      body: '{',
      status: 400,
      field: 'body',
    },
    {
      name: 'a form body',
      contentType: 'text/plain',
      body: 'query={}',
      status: 415,
      field: 'content-type',
    },
  ])(
    'GraphQL: $name, refused before Apollo → $status, still in the GraphQL error shape',
    async (c) => {
      const response = await fetch(`${h.url}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': c.contentType },
        body: c.body,
      });
      expect(response.status).toBe(c.status);
      const answer = (await response.json()) as {
        errors?: { message: string; extensions?: Record<string, unknown> }[];
      };
      expect(answer.errors?.[0].extensions).toEqual({
        code: 'BAD_USER_INPUT',
        errorCode: 'GW.VALIDATION',
        requestId: response.headers.get('x-request-id'),
      });
      expect(answer.errors?.[0].message).toContain(c.field);
      expect(upstreamCalls(h)).toBe(0);
    },
  );

  const typename = '{ __typename }';
  const sha256 = createHash('sha256').update(typename).digest('hex');
  it.each([
    { name: 'an empty array (a batch of nothing)', body: '[]', field: 'batching' },
    {
      name: 'a batch of two',
      body: JSON.stringify([{ query: typename }, { query: typename }]),
      field: 'batching',
    },
    { name: 'an empty object', body: '{}', field: 'POST body' },
    { name: 'null', body: 'null', field: 'POST body' },
    { name: 'a query that is a number', body: '{"query":1}', field: 'queries must be strings' },
    { name: 'an empty query', body: '{"query":""}', field: 'query' },
    {
      name: 'variables as an array',
      body: JSON.stringify({ query: typename, variables: [] }),
      field: 'variables',
    },
    {
      name: 'variables as a string',
      body: JSON.stringify({ query: typename, variables: '{}' }),
      field: 'variables',
    },
    {
      name: 'operationName a number',
      body: JSON.stringify({ query: typename, operationName: 1 }),
      field: 'operationName',
    },
    {
      name: 'extensions an array',
      body: JSON.stringify({ query: typename, extensions: [] }),
      field: 'extensions',
    },
    {
      name: 'a persisted query hash with its query',
      body: JSON.stringify({
        query: typename,
        extensions: { persistedQuery: { version: 1, sha256Hash: sha256 } },
      }),
      field: 'persistedQuery',
    },
    {
      name: 'a persisted query hash alone',
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256 } } }),
      field: 'persistedQuery',
    },
    {
      name: 'a persisted query of an unknown version',
      body: JSON.stringify({ extensions: { persistedQuery: { version: 2, sha256Hash: 'x' } } }),
      field: 'persistedQuery',
    },
    {
      name: 'a GET without a header CSRF prevention asks for',
      method: 'GET',
      query: `?query=${encodeURIComponent(typename)}`,
      field: 'CSRF',
    },
    {
      name: 'a GET mutation',
      method: 'GET',
      query: `?query=${encodeURIComponent('mutation { __typename }')}`,
      headers: { 'apollo-require-preflight': 'true' },
      status: 405,
      field: 'mutation',
    },
  ])(
    'GraphQL: $name, refused by Apollo before any operation runs → 4xx with code, errorCode and requestId',
    async (c: {
      body?: string;
      method?: string;
      query?: string;
      headers?: Record<string, string>;
      status?: number;
      field: string;
    }) => {
      const response = await fetch(`${h.url}/graphql${c.query ?? ''}`, {
        method: c.method ?? 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          ...(c.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...c.headers,
        },
        body: c.body,
      });
      const answer = (await response.json()) as {
        data?: unknown;
        errors?: { message: string; extensions?: Record<string, unknown> }[];
      };
      expect({ status: response.status, data: answer.data }).toEqual({
        status: c.status ?? 400,
        data: undefined,
      });
      expect(answer.errors?.[0].extensions).toEqual({
        code: 'BAD_USER_INPUT',
        errorCode: 'GW.VALIDATION',
        requestId: response.headers.get('x-request-id'),
      });
      expect(answer.errors?.[0].message).toContain(c.field);
      expect(upstreamCalls(h)).toBe(0);
    },
  );

  it('refuses invalid GET paths the same way', async () => {
    const answer = await rest(h, 'GET', lockPath(P, `${I.slice(0, 31)}_in07`), { token });
    expect(answer.status).toBe(400);
    expect(String(answer.body.error_msg)).toContain('instance_id');
    expect(upstreamCalls(h)).toBe(0);
  });
});
