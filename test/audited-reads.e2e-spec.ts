// Reads of a lock (`show`) in the audit trail, under each AUDIT_READS value: refused reads are
// recorded by default, every read under `all` (an attempt before TaurusDB's GET, sealed after),
// none under `none`; the rows are listed on both channels and the chain still verifies.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { runVerify } from '../src/audit/verify-command.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  graphql,
  injectFault,
  lockPath,
  rest,
  SHOW_LOCK_QUERY,
  type HttpAnswer,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

interface RestAuditEvent {
  id: string;
  seq: number | null;
  request_id: string;
  channel: string;
  action: string;
  outcome: string | null;
  retention_days: number | null;
  dry_run: boolean;
  decision_allowed: boolean;
  decision_rule: string | null;
  decision_reasons: string[];
  upstream_status: number | null;
  error_code: string | null;
  principal_sub: string;
  instance_id: string;
}

const UNKNOWN_INSTANCE = `${'0'.repeat(32)}in07`;

async function rowsOf(h: Harness, auditor: string, sub: string): Promise<RestAuditEvent[]> {
  const page = await rest<{ events: RestAuditEvent[] }>(h, 'GET', '/v1/audit-events?limit=500', {
    token: auditor,
  });
  expect(page.status).toBe(200);
  return page.body.events.filter((event) => event.principal_sub === sub);
}

const showLock = (h: Harness, token: string, instance: { projectId: string; id: string }) =>
  rest(h, 'GET', lockPath(instance.projectId, instance.id), { token });

const showLockGraphql = (h: Harness, token: string, instance: { projectId: string; id: string }) =>
  graphql(h, SHOW_LOCK_QUERY, { projectId: instance.projectId, instanceId: instance.id }, token);

function expectRow(answer: HttpAnswer, row: RestAuditEvent | undefined) {
  expect(row).toBeDefined();
  expect(answer.headers.get('x-audit-id')).toBe(row?.id);
  expect(row).toMatchObject({
    action: 'show',
    retention_days: null,
    dry_run: false,
    request_id: answer.headers.get('x-request-id'),
  });
  expect(row?.seq).toEqual(expect.any(Number));
}

describe('reads under AUDIT_READS=denied (the default)', () => {
  let h: Harness;
  let auditor: string;

  beforeAll(async () => {
    h = await startHarness({ AUDIT_READS: '' });
    auditor = await h.simulator.mintToken({ sub: 'auditor', groups: ['auditor'] });
  });
  afterAll(() => h.close());
  beforeEach(() => h.simulator.reset());

  it('records a read refused by policy on both channels, with the reasons', async () => {
    const token = await h.simulator.mintToken({ sub: 'snoop', groups: ['ops'] });
    const viaRest = await showLock(h, token, INSTANCES.financeProd);
    expect(viaRest.status).toBe(403);
    expect(viaRest.body.error_code).toBe('GW.POLICY_DENIED');
    const viaGraphql = await showLockGraphql(h, token, INSTANCES.marketingProd);
    expect(viaGraphql.errors?.[0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      errorCode: 'GW.POLICY_DENIED',
      auditId: expect.any(String),
    });

    const rows = await rowsOf(h, auditor, 'snoop');
    expect(rows).toHaveLength(2);
    const restRow = rows.find((row) => row.id === viaRest.headers.get('x-audit-id'));
    expectRow(viaRest, restRow);
    expect(restRow).toMatchObject({
      channel: 'rest',
      outcome: 'denied',
      decision_allowed: false,
      error_code: 'GW.POLICY_DENIED',
      instance_id: INSTANCES.financeProd.id,
    });
    expect(restRow?.decision_reasons.join(' ')).toMatch(/caller in none of the groups \[dba\]/);
    expect(rows.find((row) => row.id === viaGraphql.errors?.[0].extensions?.auditId)).toMatchObject(
      { channel: 'graphql', action: 'show', outcome: 'denied' },
    );

    const listed = await graphql(
      h,
      '{ auditEvents(filter: { outcome: DENIED }) { nodes { id action outcome principalSub } } }',
      {},
      auditor,
    );
    const nodes = (listed.data?.auditEvents as { nodes: { id: string; action: string }[] }).nodes;
    expect(nodes.map((node) => node.id)).toEqual(expect.arrayContaining(rows.map((row) => row.id)));
    expect(nodes.find((node) => node.id === restRow?.id)?.action).toBe('show');
  });

  it('records a read refused by policy on the instance, and the reads that fail before it', async () => {
    const token = await h.simulator.mintToken({ sub: 'prober', groups: ['dba'] });
    const denied = await showLock(h, token, INSTANCES.marketingProd);
    expect(denied.status).toBe(403);
    const unknown = await showLock(h, token, {
      projectId: INSTANCES.financeProd.projectId,
      id: UNKNOWN_INSTANCE,
    });
    expect(unknown.status).toBe(404);
    // The other region's project: no IAM token is cached for it yet.
    await injectFault(h, { route: 'iam.oidc', status: 403, times: 1 });
    const iamRefused = await showLock(h, token, INSTANCES.apacProd);
    expect(iamRefused.status).toBe(403);
    expect(iamRefused.body.error_code).toBe('GW.IAM_REFUSED');
    await injectFault(h, { route: 'taurusdb.instance', status: 503 });
    const unavailable = await showLock(h, token, INSTANCES.financeStaging);
    expect(unavailable.status).toBe(502);

    const rows = await rowsOf(h, auditor, 'prober');
    const byAnswer = (answer: HttpAnswer) =>
      rows.find((row) => row.id === answer.headers.get('x-audit-id'));
    expectRow(denied, byAnswer(denied));
    expect(byAnswer(denied)?.outcome).toBe('denied');
    expect(byAnswer(denied)?.decision_reasons.join(' ')).toMatch(/enterprise project 7c3d2b1a/);
    for (const [answer, outcome] of [
      [unknown, 'rejected'],
      [iamRefused, 'rejected'],
      [unavailable, 'failed'],
    ] as const) {
      expectRow(answer, byAnswer(answer));
      expect(byAnswer(answer)).toMatchObject({ outcome, decision_allowed: false });
      expect(byAnswer(answer)?.decision_reasons[0]).toMatch(/^not evaluated: /);
    }
    expect(rows).toHaveLength(4);
  });

  it('does not record an allowed read, and the chain still verifies', async () => {
    const token = await h.simulator.mintToken({ sub: 'reader', groups: ['dba'] });
    const answer = await showLock(h, token, INSTANCES.financeProd);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-audit-id')).toBeNull();
    expect((await showLockGraphql(h, token, INSTANCES.financeProd)).errors).toBeUndefined();
    expect(await rowsOf(h, auditor, 'reader')).toEqual([]);
    const verified = await runVerify({ sqlitePath: h.auditPath, databaseUrl: null });
    expect(verified.exitCode).toBe(0);
  });
});

describe('reads under AUDIT_READS=all', () => {
  let h: Harness;
  let auditor: string;
  let reader: string;

  beforeAll(async () => {
    h = await startHarness({ AUDIT_READS: 'all' });
    auditor = await h.simulator.mintToken({ sub: 'auditor', groups: ['auditor'] });
    reader = await h.simulator.mintToken({ sub: 'reader', groups: ['dba'] });
  });
  afterAll(() => h.close());
  beforeEach(() => h.simulator.reset());

  it('writes an allowed read as an attempt before the upstream GET and seals it after', async () => {
    await injectFault(h, { route: 'taurusdb.getLock', latencyMs: 400, times: 1 });
    const pending = showLock(h, reader, INSTANCES.financeProd);
    while ((h.simulator.calls()['taurusdb.getLock'] ?? 0) === 0) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const db = new Database(h.auditPath, { readonly: true });
    const open = db
      .prepare("SELECT outcome, seq FROM audit_events WHERE principal_sub = 'reader'")
      .all();
    db.close();
    expect(open).toEqual([{ outcome: null, seq: null }]);

    const answer = await pending;
    expect(answer.status).toBe(200);
    const [row] = await rowsOf(h, auditor, 'reader');
    expectRow(answer, row);
    expect(row).toMatchObject({
      channel: 'rest',
      outcome: 'succeeded',
      upstream_status: 200,
      decision_allowed: true,
      decision_rule: 'finance-dba',
    });
  });

  it('records reads on GraphQL and failed upstream reads too, and the chain verifies', async () => {
    const sub = 'graphql-reader';
    const token = await h.simulator.mintToken({ sub, groups: ['dba'] });
    expect((await showLockGraphql(h, token, INSTANCES.financeStaging)).errors).toBeUndefined();
    await injectFault(h, { route: 'taurusdb.getLock', status: 500 });
    const failed = await showLock(h, token, INSTANCES.financeProd);
    expect(failed.status).toBe(502);

    const rows = await rowsOf(h, auditor, sub);
    expect(rows.map((row) => [row.channel, row.outcome])).toEqual(
      expect.arrayContaining([
        ['graphql', 'succeeded'],
        ['rest', 'failed'],
      ]),
    );
    expectRow(
      failed,
      rows.find((row) => row.outcome === 'failed'),
    );
    expect(rows.find((row) => row.outcome === 'failed')).toMatchObject({
      upstream_status: 500,
      error_code: 'GW.UPSTREAM_ERROR',
    });
    const verified = await runVerify({ sqlitePath: h.auditPath, databaseUrl: null });
    expect(verified.exitCode).toBe(0);
  });
});

describe('reads under AUDIT_READS=none', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ AUDIT_READS: 'none' });
  });
  afterAll(() => h.close());

  it('records no read, refused or not', async () => {
    const token = await h.simulator.mintToken({ sub: 'snoop', groups: ['ops'] });
    const answer = await showLock(h, token, INSTANCES.financeProd);
    expect(answer.status).toBe(403);
    expect(answer.headers.get('x-audit-id')).toBeNull();
    const auditor = await h.simulator.mintToken({ sub: 'auditor', groups: ['auditor'] });
    expect(await rowsOf(h, auditor, 'snoop')).toEqual([]);
  });
});
