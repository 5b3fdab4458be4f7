import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Worker } from 'node:worker_threads';
import { AuditTrail } from '../src/audit/audit-trail.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { graphql, SET_LOCK_MUTATION } from './support/clients.js';
import { expectPutRefusedUnaudited } from './support/expectations.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

describe('operations endpoints', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('answers liveness and readiness with each dependency named', async () => {
    expect((await fetch(`${h.url}/health/live`)).status).toBe(200);
    const ready = await fetch(`${h.url}/health/ready`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as {
      status: string;
      info: Record<string, { status: string }>;
    };
    expect(body.status).toBe('ok');
    expect(Object.keys(body.info).sort()).toEqual(['audit', 'iam', 'policy', 'taurusdb']);
  });

  it('exposes request counts and latencies in Prometheus format', async () => {
    await fetch(`${h.url}/health/live`);
    const metrics = await fetch(`${h.url}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    expect(text).toMatch(
      /gateway_http_requests_total\{channel="ops",route="\/health\/live",status="200"\} \d+/,
    );
    expect(text).toContain('gateway_http_request_duration_seconds_bucket');
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('publishes the OpenAPI document and a browsable page', async () => {
    const document = (await (await fetch(`${h.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(
      Object.keys(document.paths['/v3/{project_id}/instances/{instance_id}/backups/vault-lock']),
    ).toEqual(expect.arrayContaining(['put', 'get']));
    expect(document.paths['/v1/audit-events']).toBeDefined();
    const page = await fetch(`${h.url}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui.css');
    // The page's own assets come from @fastify/static, a separate plugin.
    const stylesheet = await fetch(`${h.url}/docs/swagger-ui.css`);
    expect(stylesheet.status).toBe(200);
    expect(stylesheet.headers.get('content-type')).toContain('text/css');
  });

  it('fails liveness, and refuses mutations with 503, once the audit writer thread is gone', async () => {
    const broken = await startHarness();
    try {
      const trail = broken.app.get(AuditTrail);
      await (trail as unknown as { store: { worker: Worker } }).store.worker.terminate();

      const live = await fetch(`${broken.url}/health/live`);
      expect(live.status).toBe(503);
      expect(JSON.stringify(await live.json())).toContain('audit writer stopped');
      const token = await broken.simulator.mintToken({ sub: 'after-the-fall', groups: ['dba'] });
      await expectPutRefusedUnaudited(broken, token, INSTANCES.financeStaging);
    } finally {
      await broken.close();
    }
  });

  it('reports not-ready with 503, naming TaurusDB and IAM, once the upstream is gone', async () => {
    const lonely = await startHarness();
    try {
      await lonely.simulator.close();
      const ready = await fetch(`${lonely.url}/health/ready`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { error: Record<string, unknown> };
      expect(Object.keys(body.error)).toEqual(expect.arrayContaining(['iam', 'taurusdb']));
    } finally {
      await lonely.app.close();
    }
  });
});

describe('GraphQL in production mode', () => {
  let h: Harness;

  beforeAll(async () => {
    // The harness's simulator speaks http on the loopback.
    h = await startHarness({ NODE_ENV: 'production', ALLOW_HTTP_UPSTREAMS: 'true' });
  });
  afterAll(() => h.close());

  it('refuses introspection', async () => {
    const token = await h.simulator.mintToken({ sub: 'prod-pat', groups: ['dba'] });
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ __schema { types { name } } }' }),
    });
    const body = (await response.json()) as {
      errors?: { message: string; extensions?: Record<string, unknown> }[];
    };
    expect(body.errors?.[0].message).toMatch(/introspection/i);
    expect(body.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errorCode: 'GW.VALIDATION',
    });
    expect(JSON.stringify(body)).not.toMatch(/stacktrace|originalError/);
  });

  it('names what is wrong with a document, but never suggests a field, argument, type or value', async () => {
    const token = await h.simulator.mintToken({ sub: 'prod-pat', groups: ['dba'] });
    const { projectId, id: instanceId } = INSTANCES.financeProd;
    const input = { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 30, dryRun: true };
    const misspelled: [string, Record<string, unknown>, string][] = [
      [
        `{ backupVaultLock(projectId: "${projectId}", instanceId: "${instanceId}") { enabeld } }`,
        {},
        'enabeld',
      ],
      [
        `{ backupVaultLock(projectID: "${projectId}", instanceId: "${instanceId}") { enabled } }`,
        {},
        'projectID',
      ],
      [
        'mutation($input: SetBackupVaultLockInpt!) { setBackupVaultLock(input: $input) { result } }',
        { input },
        'SetBackupVaultLockInpt',
      ],
      [SET_LOCK_MUTATION, { input: { ...input, lockRetentionDay: 30 } }, 'lockRetentionDay'],
      [SET_LOCK_MUTATION, { input: { ...input, action: 'ENABEL' } }, 'ENABEL'],
    ];
    for (const [query, variables, wrong] of misspelled) {
      const answer = await graphql(h, query, variables, token);
      const messages = (answer.errors ?? []).map((error) => error.message);
      expect({ wrong, named: messages.some((message) => message.includes(wrong)) }).toEqual({
        wrong,
        named: true,
      });
      expect({ wrong, messages }).toEqual({
        wrong,
        messages: expect.not.arrayContaining([expect.stringMatching(/did you mean/i)]),
      });
    }
  });

  it('refuses a simple request that a browser could send cross-site (CSRF prevention)', async () => {
    const response = await fetch(`${h.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/CSRF/i);
  });

  it('refuses batched operations', async () => {
    const token = await h.simulator.mintToken({ sub: 'prod-pat', groups: ['dba'] });
    const response = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(response.status).toBe(400);
  });

  it('refuses to start without a TaurusDB endpoint rather than use the simulator', async () => {
    const { startEmbeddedSimulatorIfUnconfigured } =
      await import('../src/bootstrap/embedded-simulator.js');
    await expect(startEmbeddedSimulatorIfUnconfigured({ NODE_ENV: 'production' })).rejects.toThrow(
      /TAURUSDB_ENDPOINT/,
    );
  });
});
