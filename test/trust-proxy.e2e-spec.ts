import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { exitOf, GATEWAY_ENTRY, launch } from './support/child-processes.js';
import { lockBody, lockPath, rest, SET_LOCK_MUTATION } from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const { projectId, id: instanceId } = INSTANCES.financeProd;
/** What a caller sends to pass itself off as someone else; the last entry is the real client's. */
const FORWARDED_FOR = '198.51.100.66, 203.0.113.9';

/** The caller address audited for a dry run sent over each channel with `X-Forwarded-For`. */
async function auditedAddresses(h: Harness, token: string): Promise<Record<string, string>> {
  const headers = { 'x-forwarded-for': FORWARDED_FOR };
  const restRequestId = `rest-${randomUUID()}`;
  const put = await rest(h, 'PUT', `${lockPath(projectId, instanceId)}?dry_run=true`, {
    token,
    body: lockBody('enable', 30),
    headers: { ...headers, 'x-request-id': restRequestId },
  });
  expect(put.status).toBe(200);

  const graphqlRequestId = `graphql-${randomUUID()}`;
  const response = await fetch(`${h.url}/graphql`, {
    method: 'POST',
    headers: {
      ...headers,
      'x-request-id': graphqlRequestId,
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      query: SET_LOCK_MUTATION,
      variables: {
        input: { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 30, dryRun: true },
      },
    }),
  });
  expect(((await response.json()) as { errors?: unknown }).errors).toBeUndefined();

  const listed = await rest<{ events: { correlation_id: string; caller_address: string }[] }>(
    h,
    'GET',
    `/v1/audit-events?instance_id=${instanceId}&limit=10`,
    { token },
  );
  const addressOf = (correlationId: string) =>
    listed.body.events.find((event) => event.correlation_id === correlationId)?.caller_address;
  return { rest: addressOf(restRequestId)!, graphql: addressOf(graphqlRequestId)! };
}

describe.each([
  { trustProxy: '', audited: '127.0.0.1', meaning: 'unset: a forged header changes nothing' },
  { trustProxy: '1', audited: '203.0.113.9', meaning: 'one hop: the client its proxy saw' },
  {
    trustProxy: '127.0.0.1',
    audited: '203.0.113.9',
    meaning: 'the proxy by address: the client it saw',
  },
  {
    trustProxy: '10.0.0.0/8',
    audited: '127.0.0.1',
    meaning: 'a peer that is not a listed proxy is not believed',
  },
])('TRUST_PROXY=$trustProxy ($meaning)', ({ trustProxy, audited }) => {
  let h: Harness;
  let token: string;

  beforeAll(async () => {
    h = await startHarness({ TRUST_PROXY: trustProxy });
    token = await h.simulator.mintToken({ sub: 'proxied-dba', groups: ['dba', 'auditor'] });
  });
  afterAll(() => h.close());

  it(`audits ${audited} as the caller address on both channels`, async () => {
    expect(await auditedAddresses(h, token)).toEqual({ rest: audited, graphql: audited });
  });
});

describe('TRUST_PROXY with a wrong value', () => {
  it('stops the gateway at start, naming the variable and the rule', async () => {
    const gateway = launch(GATEWAY_ENTRY, {
      NODE_ENV: 'test',
      TRUST_PROXY: 'true',
      AUDIT_SQLITE_PATH: join(mkdtempSync(join(tmpdir(), 'vlg-trust-proxy-')), 'audit.sqlite'),
      TAURUSDB_ENDPOINT: 'http://127.0.0.1:9/{region}',
      IAM_ENDPOINT: 'http://127.0.0.1:9',
      IAM_IDP_ID: 'idp',
      AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks',
      AUTH_ISSUER: 'http://127.0.0.1:9',
      AUTH_AUDIENCE: 'vault-lock-gateway',
    });
    const { code, stderr } = await exitOf(gateway);
    expect(code).toBe(1);
    expect(stderr).toContain(
      'vault-lock-gateway failed to start: Invalid configuration:\n  TRUST_PROXY: TRUST_PROXY must be a number of proxy hops',
    );
  });
});
