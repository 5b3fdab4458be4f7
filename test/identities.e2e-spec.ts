// Proves that identities are clean text (no control characters, no lone surrogates), that caller
// input no canonical form can hold is refused naming its field, that such upstream strings are
// stored with U+FFFD instead of breaking the audit write, and that every audit row has its own
// gateway-made request id with the caller's X-Request-Id kept beside it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  clearFaults,
  graphql,
  injectFault,
  lockBody,
  lockPath,
  rest,
  upstreamCalls,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const prod = INSTANCES.financeProd;
const path = lockPath(prod.projectId, prod.id);

/** Texts no identity may hold: they forge lines or reorder text when printed, or cannot be stored. */
const UNCLEAN: [string, string][] = [
  ['ESC', 'mallory\u001b[2K\u001b[1Galice'],
  ['CR LF', 'mallory\r\n{"principal_sub":"alice"}'],
  ['NUL', 'alice\u0000mallory'],
  ['DEL', 'alice\u007f'],
  ['a C1 control (NEL)', 'alice\u0085mallory'],
  ['a line separator', 'alice\u2028mallory'],
  ['a bidi override', 'mallory\u202ecila'],
  ['a lone high surrogate', 'alice\ud800'],
  ['a lone low surrogate', '\udc00alice'],
];

type Row = Record<string, unknown>;

describe('identities, correlation ids and text without a canonical form', () => {
  let h: Harness;
  let auditor: string;

  beforeAll(async () => {
    h = await startHarness();
    auditor = await h.simulator.mintToken({ sub: 'clean-auditor', groups: ['dba', 'auditor'] });
  });
  afterAll(() => h.close());

  function rowCount(): number {
    const db = new Database(h.auditPath, { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
    } finally {
      db.close();
    }
  }

  async function row(auditId: string | null): Promise<Row> {
    const listed = await rest<{ events: Row[] }>(
      h,
      'GET',
      `/v1/audit-events?instance_id=${prod.id}&limit=500`,
      { token: auditor },
    );
    const found = listed.body.events.find((event) => event.id === auditId);
    if (!found) throw new Error(`no audit row ${auditId}`);
    return found;
  }

  async function expectRefusedToken(claims: Record<string, unknown>, claim: string) {
    const rows = rowCount();
    const calls = upstreamCalls(h);
    const token = await h.simulator.mintToken({ groups: ['dba'], ...claims });
    const answer = await rest(h, 'PUT', `${path}?dry_run=true`, {
      token,
      body: lockBody('enable', 30),
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error_code).toBe('GW.UNAUTHENTICATED');
    expect(answer.body.error_msg).toMatch(new RegExp(`^token claim ${claim} `));
    expect(rowCount()).toBe(rows);
    expect(upstreamCalls(h)).toBe(calls);
  }

  it.each(UNCLEAN)('refuses a token whose sub holds %s, and writes no row', async (_name, sub) => {
    await expectRefusedToken({ sub }, 'sub');
  });

  it.each(UNCLEAN)('refuses a token with a group that holds %s', async (_name, group) => {
    await expectRefusedToken({ sub: 'carol', groups: ['dba', group] }, 'groups');
  });

  it('refuses caller input with a lone surrogate, naming the field', async () => {
    const token = await h.simulator.mintToken({ sub: 'careless', groups: ['dba'] });
    const body = await rest(h, 'PUT', `${path}?dry_run=true`, {
      token,
      rawBody: JSON.stringify(lockBody('enable\udc00', 30)),
    });
    expect(body.status).toBe(400);
    expect(body.body).toMatchObject({
      error_code: 'GW.VALIDATION',
      error_msg: 'action: must be well-formed Unicode text (it holds a lone UTF-16 surrogate)',
    });
    // The escape in upper-case hex, as JSON allows and JSON.stringify never writes.
    const upperCase = await rest(h, 'PUT', `${path}?dry_run=true`, {
      token,
      rawBody: JSON.stringify(lockBody('enable', 30)).replace('"enable"', '"enable\\uDC00"'),
    });
    expect(upperCase.status).toBe(400);
    expect(upperCase.body).toMatchObject({ error_msg: body.body.error_msg });

    const first = await graphql(
      h,
      '{ auditEvents(first: 1) { pageInfo { endCursor } } }',
      {},
      auditor,
    );
    const cursor = (first.data?.auditEvents as { pageInfo: { endCursor: string } }).pageInfo
      .endCursor;
    const query = 'query Page($after: String) { auditEvents(after: $after) { nodes { id } } }';
    const paged = await graphql(h, query, { after: `${cursor}\ud800` }, auditor);
    expect(paged.status).toBe(400);
    expect(paged.errors?.[0]).toMatchObject({
      message:
        'variables.after: must be well-formed Unicode text (it holds a lone UTF-16 surrogate)',
      extensions: { code: 'BAD_USER_INPUT', errorCode: 'GW.VALIDATION' },
    });
  });

  describe('upstream strings without a canonical form', () => {
    afterAll(() => clearFaults(h));

    it('decides on a tag value with a lone surrogate and stores it with U+FFFD', async () => {
      const token = await h.simulator.mintToken({ sub: 'tagged', groups: ['dba'] });
      await injectFault(h, {
        route: 'taurusdb.instance',
        body: {
          instance: {
            id: prod.id,
            name: prod.name,
            status: 'normal',
            enterprise_project_id: prod.enterpriseProjectId,
            tags: [
              { key: 'env', value: 'pr\ud800od' },
              { key: 'owner', value: 'alice' },
            ],
          },
        },
        times: 1,
      });
      const answer = await rest(h, 'PUT', `${path}?dry_run=true`, {
        token,
        body: lockBody('enable', 30),
      });
      expect(answer.status).toBe(403);
      expect(answer.body.error_code).toBe('GW.POLICY_DENIED');
      const stored = await row(answer.headers.get('x-audit-id'));
      expect(JSON.stringify(stored.decision_reasons)).toContain('pr\ufffdod');
    });

    it('stores an upstream error_msg with a lone surrogate with U+FFFD, and answers it so', async () => {
      const token = await h.simulator.mintToken({ sub: 'refused', groups: ['dba'] });
      await injectFault(h, {
        route: 'taurusdb.instance',
        status: 404,
        body: { error_code: 'DBS.280238', error_msg: 'instance \udc00 not found' },
        times: 1,
      });
      const answer = await rest(h, 'PUT', `${path}?dry_run=true`, {
        token,
        body: lockBody('enable', 30),
      });
      expect(answer.status).toBe(404);
      expect(answer.body.error_msg).toBe('instance \ufffd not found');
      const stored = await row(answer.headers.get('x-audit-id'));
      expect(stored.outcome).toBe('rejected');
      expect(JSON.stringify(stored.decision_reasons)).toContain('instance \ufffd not found');
    });
  });

  it('writes a row for each audited call of one GraphQL request, sharing its request id', async () => {
    const token = await h.simulator.mintToken({ sub: 'aliaser', groups: ['dba'] });
    const input = { projectId: prod.projectId, instanceId: prod.id, action: 'ENABLE' };
    const answer = await graphql(
      h,
      `
        mutation ($input: SetBackupVaultLockInput!) {
          a: setBackupVaultLock(input: $input) {
            auditId
            requestId
          }
          b: setBackupVaultLock(input: $input) {
            auditId
            requestId
          }
        }
      `,
      { input: { ...input, lockRetentionDays: 30, dryRun: true } },
      token,
    );
    expect(answer.errors).toBeUndefined();
    const { a, b } = answer.data as Record<'a' | 'b', { auditId: string; requestId: string }>;
    expect(a.auditId).not.toBe(b.auditId);
    expect(a.requestId).toBe(b.requestId);
  });

  it("gives every row its own request id, with the caller's X-Request-Id beside it", async () => {
    const token = await h.simulator.mintToken({ sub: 'replayer', groups: ['dba'] });
    const shared = { 'x-request-id': 'shared-trace-0001' };
    const answers = [
      await rest(h, 'PUT', `${path}?dry_run=true`, {
        token,
        headers: shared,
        body: lockBody('enable', 30),
      }),
      await rest(h, 'PUT', `${path}?dry_run=true`, {
        token,
        headers: shared,
        body: lockBody('enable', 9999),
      }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 403]);
    for (const answer of answers)
      expect(answer.headers.get('x-request-id')).toBe('shared-trace-0001');
    const rows = await Promise.all(answers.map((a) => row(a.headers.get('x-audit-id'))));
    expect(rows.map((r) => r.correlation_id)).toEqual(['shared-trace-0001', 'shared-trace-0001']);
    expect(rows[0].request_id).toMatch(UUID);
    expect(rows[1].request_id).toMatch(UUID);
    expect(rows[0].request_id).not.toBe(rows[1].request_id);
    // The error body names the row's own id, so the caller can find its row.
    expect(answers[1].body.request_id).toBe(rows[1].request_id);

    const mutation = `mutation Set($input: SetBackupVaultLockInput!) {
      setBackupVaultLock(input: $input) { requestId auditId } }`;
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        ...shared,
      },
      body: JSON.stringify({
        query: mutation,
        variables: {
          input: {
            projectId: prod.projectId,
            instanceId: prod.id,
            action: 'ENABLE',
            lockRetentionDays: 30,
            dryRun: true,
          },
        },
      }),
    });
    const payload = ((await response.json()) as { data: Record<string, Record<string, string>> })
      .data.setBackupVaultLock;
    const listed = await graphql(
      h,
      `{ auditEvents(filter: { instanceId: "${prod.id}" }, first: 1) {
           nodes { id requestId correlationId } } }`,
      {},
      auditor,
    );
    const [node] = (listed.data?.auditEvents as { nodes: Row[] }).nodes;
    expect(node).toEqual({
      id: payload.auditId,
      requestId: payload.requestId,
      correlationId: 'shared-trace-0001',
    });
    expect(payload.requestId).not.toBe(rows[0].request_id);
  });
});
