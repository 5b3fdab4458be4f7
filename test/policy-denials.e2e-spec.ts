import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ENTERPRISE_PROJECTS, INSTANCES } from '../src/simulator/fixtures.js';
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

  const NO_RULE_HERE =
    'policy denied: no rule allows action enable on this instance for your groups';
  const cases = [
    {
      name: 'enterprise project',
      instance: INSTANCES.marketingProd,
      groups: ['dba'],
      days: 30,
      answer: NO_RULE_HERE,
      reason: new RegExp(`enterprise project ${ENTERPRISE_PROJECTS.marketing} not in allowlist`),
    },
    {
      name: 'tag value',
      instance: INSTANCES.financeDev,
      groups: ['dba'],
      days: 30,
      answer: NO_RULE_HERE,
      reason: /env=dev/,
    },
    {
      name: 'missing tag key',
      instance: INSTANCES.financeUnowned,
      groups: ['dba'],
      days: 30,
      answer: NO_RULE_HERE,
      reason: /tag owner missing/,
    },
    {
      name: 'group',
      instance: INSTANCES.financeProd,
      groups: ['ops'],
      days: 30,
      answer: 'policy denied: no rule allows action enable for your groups',
      reason: /finance-dba: caller in none of the groups \[dba\]/,
      decidedFromCallerAlone: true,
    },
    {
      name: 'maxRetentionDays',
      instance: INSTANCES.financeProd,
      groups: ['dba'],
      days: 4000,
      answer: 'policy denied: rule finance-dba: retention 4000 days exceeds maxRetentionDays 3650',
      reason: /4000/,
      decidedFromCallerAlone: true,
    },
    {
      name: 'minRetentionDays',
      instance: INSTANCES.marketingProd,
      groups: ['marketing-dba'],
      days: 6,
      answer:
        'policy denied: rule marketing-four-eyes: retention 6 days is below minRetentionDays 7',
      reason: /marketing-four-eyes: retention 6 days is below minRetentionDays 7/,
      decidedFromCallerAlone: true,
    },
  ];

  /** What a denial must never tell: the instance's enterprise project and tags, other rules. */
  function expectDiscreet(message: string, instance: (typeof cases)[number]['instance']) {
    expect(message).not.toContain(instance.enterpriseProjectId);
    for (const tag of instance.tags) expect(message).not.toContain(`=${tag.value}`);
    expect(message).not.toMatch(/auditor|auditors-read|enterprise project|tag /);
  }

  for (const c of cases) {
    it(`refuses by ${c.name} over REST: 403, no PUT, a denied audit row with reasons`, async () => {
      const token = await h.simulator.mintToken({ sub: `rest-${c.name}`, groups: c.groups });
      const answer = await rest(h, 'PUT', lockPath(c.instance.projectId, c.instance.id), {
        token,
        body: lockBody('enable', c.days),
      });
      expect(answer.status).toBe(403);
      expect(answer.body.error_code).toBe('GW.POLICY_DENIED');
      expect(answer.body.error_msg).toBe(c.answer);
      expectDiscreet(String(answer.body.error_msg), c.instance);
      expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);
      if (c.decidedFromCallerAlone) {
        // No rule could match whatever the instance: nothing was asked of IAM or TaurusDB, so
        // the answer reveals nothing about the instance either.
        expect(h.simulator.calls()['iam.oidc']).toBe(0);
        expect(h.simulator.calls()['taurusdb.instance']).toBe(0);
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
      expect(answer.errors?.[0].message).toBe(c.answer);
      expectDiscreet(String(answer.errors?.[0].message), c.instance);
      expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);
    });
  }

  it('shows in a dry run what the allowing rule asks before the change, applying nothing', async () => {
    const DRY_RUN_DECISION = `
      mutation Set($input: SetBackupVaultLockInput!) {
        setBackupVaultLock(input: $input) {
          result
          decision { allowed ruleId approvalsRequired approverGroups coolingOffSeconds }
        }
      }`;
    const dryRun = async (instance: (typeof cases)[number]['instance'], groups: string[]) =>
      graphql(
        h,
        DRY_RUN_DECISION,
        {
          input: {
            projectId: instance.projectId,
            instanceId: instance.id,
            action: 'ENABLE',
            lockRetentionDays: 30,
            dryRun: true,
          },
        },
        await h.simulator.mintToken({ sub: `dry-${groups[0]}`, groups }),
      );

    const fourEyes = await dryRun(INSTANCES.marketingProd, ['marketing-dba']);
    const plain = await dryRun(INSTANCES.financeProd, ['dba']);

    expect(fourEyes.errors).toBeUndefined();
    expect(fourEyes.data?.setBackupVaultLock).toEqual({
      result: 'dry-run',
      decision: {
        allowed: true,
        ruleId: 'marketing-four-eyes',
        approvalsRequired: 2,
        approverGroups: ['dba-lead'],
        coolingOffSeconds: 72 * 3600,
      },
    });
    expect(plain.data?.setBackupVaultLock).toEqual({
      result: 'dry-run',
      decision: {
        allowed: true,
        ruleId: 'finance-dba',
        approvalsRequired: 0,
        approverGroups: [],
        coolingOffSeconds: 0,
      },
    });
    expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);
  });

  it('answers a caller with 700 groups briefly on both channels, and bounds its rows', async () => {
    // As many groups as fit in the largest token accepted (8 KB).
    const groups = [...Array.from({ length: 700 }, (_, i) => `g${i}`), 'dba'];
    const token = await h.simulator.mintToken({ sub: 'many-groups', groups });
    const { projectId, id } = INSTANCES.marketingProd;
    const viaRest = await rest(h, 'PUT', lockPath(projectId, id), {
      token,
      body: lockBody('enable', 30),
    });
    expect(viaRest.status).toBe(403);
    expect(viaRest.body.error_msg).toBe(NO_RULE_HERE);
    expect(JSON.stringify(viaRest.body).length).toBeLessThan(300);
    const viaGraphql = await graphql(
      h,
      SET_LOCK_MUTATION,
      { input: { projectId, instanceId: id, action: 'ENABLE', lockRetentionDays: 30 } },
      token,
    );
    expect(viaGraphql.errors?.[0].message).toBe(NO_RULE_HERE);
    expect(JSON.stringify(viaGraphql).length).toBeLessThan(600);

    const trail = await rest<{ events: RestAuditEvent[] }>(
      h,
      'GET',
      `/v1/audit-events?instance_id=${id}&outcome=denied`,
      { token: auditor },
    );
    const rows = trail.body.events.filter((e) => e.principal_sub === 'many-groups');
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      const reasons = row.decision_reasons;
      expect(reasons[0].startsWith('caller groups (701): g0, g1, g2')).toBe(true);
      expect(reasons.join('\n').match(/\bg1\b/g)).toHaveLength(1);
      expect(reasons.join(' ')).toMatch(/finance-dba: enterprise project 7c3d2b1a/);
      for (const reason of reasons) expect(reason.length).toBeLessThanOrEqual(300);
      expect(JSON.stringify(reasons).length).toBeLessThan(1000);
    }
  });

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
