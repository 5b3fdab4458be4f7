// Proves: IDs carrying path traversal, encoded separators, NUL, query/fragment delimiters, Unicode
// look-alikes or wrong characters at the right length are refused (400; 404 when a literal
// separator leaves a path that is not the route) with no upstream call, on REST and GraphQL; and
// that CR/LF or non-ASCII in X-Request-Id is refused or replaced, never echoed or forwarded, and
// that body fields named after Object.prototype members are refused like other unknown fields.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  graphql,
  lockBody,
  lockPath,
  rest,
  SET_LOCK_MUTATION,
  SHOW_LOCK_QUERY,
  upstreamCalls,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';
import { rawHttp, rawRequest } from './support/raw-http.js';

const { projectId: P, id: I } = INSTANCES.financeProd;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Replaces the characters at the end of `id`'s first 32, keeping its length where it can. */
const instanceWith = (infix: string) => `${I.slice(0, 32 - infix.length)}${infix}in07`;
const projectWith = (infix: string) => `${P.slice(0, 32 - infix.length)}${infix}`;

/** Hostile ID values as a client would put them in a URL (already percent-encoded where needed). */
const hostileIds: { name: string; project?: string; instance?: string }[] = [
  { name: 'dot-dot-slash in the instance id', instance: instanceWith('..%2F..%2F') },
  { name: 'encoded slash in the project id', project: projectWith('%2F') },
  { name: 'encoded backslash in the project id', project: projectWith('%5C') },
  { name: 'NUL byte in the instance id', instance: instanceWith('%00') },
  { name: 'encoded ? in the instance id', instance: instanceWith('%3F') },
  { name: 'encoded # in the project id', project: projectWith('%23') },
  { name: 'encoded CR/LF in the instance id', instance: instanceWith('%0D%0A') },
  { name: 'Cyrillic а for Latin a (encoded)', project: P.replace('a', encodeURIComponent('а')) },
  { name: 'fullwidth digit (encoded)', instance: I.replace('1', encodeURIComponent('１')) },
  { name: 'right length, underscore', instance: instanceWith('_') },
  { name: 'right length, dash', project: projectWith('-') },
  { name: 'right length, dot', project: projectWith('.') },
  { name: 'right length, encoded space', instance: instanceWith('%20') },
  { name: 'double-encoded slash', instance: instanceWith('%252F') },
];

describe('path and header injection', () => {
  let h: Harness;
  let token: string;

  beforeAll(async () => {
    h = await startHarness();
    token = await h.simulator.mintToken({ sub: 'ines', groups: ['dba'] });
    h.simulator.reset();
  });
  afterAll(() => h.close());

  it.each(hostileIds)('REST refuses $name with 400 and no upstream call', async (c) => {
    const path = lockPath(c.project ?? P, c.instance ?? I);
    for (const method of ['GET', 'PUT']) {
      const body = method === 'PUT' ? JSON.stringify(lockBody('enable', 30)) : '';
      const answer = await rawHttp(
        h.url,
        rawRequest(method, path, { authorization: `Bearer ${token}` }, body),
      );
      expect({ method, status: answer.status }).toEqual({ method, status: 400 });
      const error = JSON.parse(answer.body) as Record<string, unknown>;
      expect(error).toMatchObject({ error_code: 'GW.VALIDATION' });
      expect(String(error.error_msg)).toMatch(c.project ? /project_id/ : /instance_id/);
    }
    expect(upstreamCalls(h)).toBe(0);
  });

  it.each(hostileIds)(
    'GraphQL refuses $name as BAD_USER_INPUT with no upstream call',
    async (c) => {
      const projectId = decodeURIComponent(c.project ?? P);
      const instanceId = decodeURIComponent(c.instance ?? I);
      const set = await graphql(
        h,
        SET_LOCK_MUTATION,
        { input: { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 30 } },
        token,
      );
      const show = await graphql(h, SHOW_LOCK_QUERY, { projectId, instanceId }, token);
      for (const answer of [set, show]) {
        expect(answer.errors?.[0].extensions).toMatchObject({
          code: 'BAD_USER_INPUT',
          errorCode: 'GW.VALIDATION',
        });
        expect(answer.errors?.[0].message).toMatch(c.project ? /projectId/ : /instanceId/);
      }
      expect(upstreamCalls(h)).toBe(0);
    },
  );

  it('refuses fields named after Object.prototype members, which the whitelist took as known', async () => {
    const good = lockBody('enable', 30);
    for (const [body, field] of [
      [{ ...good, constructor: {} }, 'constructor'],
      [{ ...good, hasOwnProperty: 1 }, 'hasOwnProperty'],
      [
        { ...good, backup_vaultlock_info: { ...good.backup_vaultlock_info, isPrototypeOf: [] } },
        'backup_vaultlock_info.isPrototypeOf',
      ],
    ] as const) {
      const answer = await rest(h, 'PUT', `${lockPath(P, I)}?dry_run=true`, { token, body });
      expect({ field, status: answer.status }).toEqual({ field, status: 400 });
      expect(answer.body.error_msg).toBe(`${field}: unknown field is not allowed`);
    }
    expect(upstreamCalls(h)).toBe(0);
  });

  it('answers 404 when a literal /, ../, ? or # inside an ID leaves a path that is not the route', async () => {
    const ids = [instanceWith('../..'), instanceWith('?x'), instanceWith('#x'), `${I}/../${I}`];
    for (const id of ids) {
      const answer = await rawHttp(
        h.url,
        rawRequest('GET', lockPath(P, id), { authorization: `Bearer ${token}` }),
      );
      expect({ id, status: answer.status }).toEqual({ id, status: 404 });
      expect(JSON.parse(answer.body)).toMatchObject({ error_code: 'GW.NOT_FOUND' });
    }
    expect(upstreamCalls(h)).toBe(0);
  });

  it('refuses raw (unencoded) Unicode look-alikes in the request line', async () => {
    for (const path of [lockPath(P.replace('a', 'а'), I), lockPath(P, I.replace('1', '１'))]) {
      const answer = await rawHttp(
        h.url,
        rawRequest('GET', path, { authorization: `Bearer ${token}` }),
      );
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error_code: 'GW.VALIDATION' });
    }
    expect(upstreamCalls(h)).toBe(0);
  });

  it.each([
    ['a bare CR', 'abcdefgh\rX-Injected: yes'],
    ['a bare LF', 'abcdefgh\nX-Injected: yes'],
    ['a NUL byte', 'abcdefgh\u0000X-Injected: yes'],
  ])('refuses an X-Request-Id with %s, echoing nothing of it', async (_name, value) => {
    const answer = await rawHttp(
      h.url,
      rawRequest('GET', lockPath(P, I), {
        authorization: `Bearer ${token}`,
        'x-request-id': value,
      }),
    );
    expect(answer.status).toBe(400);
    expect(answer.headers['x-injected']).toBeUndefined();
    expect(answer.raw).not.toContain('abcdefgh');
    expect(JSON.parse(answer.body)).toMatchObject({ error_code: 'GW.VALIDATION' });
    expect(answer.headers['x-request-id']).toMatch(UUID);
    expect(upstreamCalls(h)).toBe(0);
  });

  it('replaces a non-ASCII or percent-encoded CR/LF request id instead of echoing or forwarding it', async () => {
    for (const offered of ['requête-1234567', 'abcdefgh%0D%0AX-Injected:%20yes']) {
      const answer = await rawHttp(
        h.url,
        rawRequest(
          'PUT',
          `${lockPath(P, I)}?dry_run=true`,
          { authorization: `Bearer ${token}`, 'x-request-id': offered },
          JSON.stringify(lockBody('enable', 30)),
        ),
      );
      expect(answer.status).toBe(200);
      expect(answer.headers['x-request-id']).toMatch(UUID);
      expect(answer.raw).not.toContain('1234567');
      expect(answer.raw).not.toContain('abcdefgh');
    }
    // The dry runs did go upstream (IAM, instance details): with the gateway's own ids.
    expect(upstreamCalls(h)).toBeGreaterThan(0);
  });

  it('keeps a sane request id, so the replacements above are not the default', async () => {
    const answer = await rest(h, 'GET', lockPath(P, I), {
      token,
      headers: { 'x-request-id': 'trace-0001.a:b' },
    });
    expect(answer.headers.get('x-request-id')).toBe('trace-0001.a:b');
  });
});
