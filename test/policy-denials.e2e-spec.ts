import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { graphql, lockBody, lockPath, rest, SET_LOCK_MUTATION } from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

interface RestAuditEvent {
  id: string;
  outcome: string;
  decision_allowed: boolean;
  decision_reasons: string[];
  policy_version: string;
  principal_sub: string;
}

describe('policy denials', () => {
  let h: Harness;
  let dba: string;
  let auditor: string;

  beforeAll(async () => {
    h = await startHarness();
    dba = await h.simulator.mintToken({ sub: 'dan', groups: ['dba'] });
    auditor = await h.simulator.mintToken({ sub: 'audrey', groups: ['auditor'] });
  });
  afterAll(() => h.close());
  beforeEach(() => h.simulator.reset());

  const cases = [
    {
      name: 'enterprise project',
      instance: INSTANCES.marketingProd,
      groups: ['dba'],
      days: 30,
      reason: /enterprise project/,
    },
    {
      name: 'tag value',
      instance: INSTANCES.financeDev,
      groups: ['dba'],
      days: 30,
      reason: /env=dev/,
    },
    {
      name: 'missing tag key',
      instance: INSTANCES.financeUnowned,
      groups: ['dba'],
      days: 30,
      reason: /owner/,
    },
    {
      name: 'group',
      instance: INSTANCES.financeProd,
      groups: ['ops'],
      days: 30,
      reason: /group/,
      decidedFromCallerAlone: true,
    },
    {
      name: 'maxRetentionDays',
      instance: INSTANCES.financeProd,
      groups: ['dba'],
      days: 4000,
      reason: /4000/,
      decidedFromCallerAlone: true,
    },
  ];

  for (const c of cases) {
    it(`refuses by ${c.name} over REST: 403, no PUT, a denied audit row with reasons`, async () => {
      const token = await h.simulator.mintToken({ sub: `rest-${c.name}`, groups: c.groups });
      const answer = await rest(h, 'PUT', lockPath(c.instance.projectId, c.instance.id), {
        token,
        body: lockBody('enable', c.days),
      });
      expect(answer.status).toBe(403);
      expect(answer.body.error_code).toBe('GW.POLICY_DENIED');
      expect(String(answer.body.error_msg)).toMatch(c.reason);
      expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);
      if (c.decidedFromCallerAlone) {
        // No rule could match whatever the instance: nothing was asked of IAM or TaurusDB, so
        // the answer reveals nothing about the instance either.
        expect(h.simulator.calls()['iam.oidc']).toBe(0);
        expect(h.simulator.calls()['taurusdb.instance']).toBe(0);
        expect(String(answer.body.error_msg)).not.toMatch(/enterprise project|tag /);
      }

      const auditId = answer.headers.get('x-audit-id');
      expect(auditId).toBeTruthy();
      const trail = await rest<{ events: RestAuditEvent[] }>(
        h,
        'GET',
        `/v1/audit-events?instance_id=${c.instance.id}&outcome=denied`,
        { token: auditor },
      );
      const row = trail.body.events.find((e) => e.id === auditId);
      expect(row).toMatchObject({
        outcome: 'denied',
        decision_allowed: false,
        principal_sub: `rest-${c.name}`,
      });
      expect(row?.decision_reasons.join(' ')).toMatch(c.reason);
      expect(row?.policy_version).toMatch(/^sha256:/);
    });

    it(`refuses by ${c.name} over GraphQL with FORBIDDEN and GW.POLICY_DENIED`, async () => {
      const token = await h.simulator.mintToken({ sub: `gql-${c.name}`, groups: c.groups });
      const answer = await graphql(
        h,
        SET_LOCK_MUTATION,
        {
          input: {
            projectId: c.instance.projectId,
            instanceId: c.instance.id,
            action: 'ENABLE',
            lockRetentionDays: c.days,
          },
        },
        token,
      );
      expect(answer.data).toBeNull();
      expect(answer.errors?.[0].extensions).toMatchObject({
        code: 'FORBIDDEN',
        errorCode: 'GW.POLICY_DENIED',
      });
      expect(answer.errors?.[0].extensions?.auditId).toBeTruthy();
      expect(answer.errors?.[0].message).toMatch(c.reason);
      expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);
    });
  }

  it('lets only the auditor group read the audit trail', async () => {
    const { projectId, id } = INSTANCES.marketingProd;
    for (const days of [1, 2, 3]) {
      const denial = await rest(h, 'PUT', lockPath(projectId, id), {
        token: dba,
        body: lockBody('enable', days),
      });
      expect(denial.status).toBe(403);
    }
    const refused = await rest(h, 'GET', '/v1/audit-events', { token: dba });
    expect(refused.status).toBe(403);
    expect(refused.body.error_code).toBe('GW.FORBIDDEN');
    const gql = await graphql(h, '{ auditEvents { nodes { id } } }', {}, dba);
    expect(gql.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN' });
    const allowed = await graphql(
      h,
      '{ auditEvents(first: 2, filter: { outcome: DENIED }) { nodes { id outcome decisionReasons } pageInfo { hasNextPage endCursor } } }',
      {},
      auditor,
    );
    expect(allowed.errors).toBeUndefined();
    const connection = allowed.data?.auditEvents as {
      nodes: { outcome: string }[];
      pageInfo: { hasNextPage: boolean };
    };
    expect(connection.nodes).toHaveLength(2);
    expect(connection.nodes.every((n) => n.outcome === 'DENIED')).toBe(true);
    expect(connection.pageInfo.hasNextPage).toBe(true);
  });
});
