import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ENTERPRISE_PROJECTS,
  FLEET_INSTANCES,
  PROJECTS,
  type FixtureInstance,
} from '../src/simulator/fixtures.js';
import { SERVICE_ACCOUNT } from '../src/simulator/simulator.js';
import { graphql, injectFault, lockBody, lockPath, rest } from './support/clients.js';
import { exitOf, GATEWAY_ENTRY, launch } from './support/child-processes.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const FLEET = PROJECTS.cnNorth4Fleet.id;

/** The example policy, and two rules that say how long production locks must hold. */
function compliancePolicyFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'vlg-compliance-')), 'policy.yaml');
  const example = readFileSync('config/policy.example.yaml', 'utf8');
  writeFileSync(
    path,
    `${example}
  - id: finance-prod-retention
    description: Finance production locks hold at least 90 days
    groups: [compliance-nobody]
    projects: ["*"]
    enterpriseProjects: ["${ENTERPRISE_PROJECTS.finance}"]
    tags: { env: [prod] }
    actions: [show]
    minRetentionDays: 90
  - id: prod-retention
    description: Every production lock holds at least 30 days
    groups: [compliance-nobody]
    projects: ["*"]
    enterpriseProjects: ["*"]
    tags: { env: [prod] }
    actions: [show]
    minRetentionDays: 30
`,
  );
  return path;
}

const REPORT_QUERY = `
  query Report($projectId: ID!) {
    complianceReport(projectId: $projectId) {
      projectId
      instances { instanceId compliant retentionDays requiredDays ruleId lockError }
    }
  }`;

const envOf = (instance: FixtureInstance) => instance.tags.find((tag) => tag.key === 'env')?.value;
const requiredDays = (instance: FixtureInstance) =>
  instance.enterpriseProjectId === ENTERPRISE_PROJECTS.finance ? 90 : 30;
const PROD = FLEET_INSTANCES.filter((i) => envOf(i) === 'prod');

interface RestEntry {
  instance_id: string;
  compliant: boolean;
  retention_days: number | null;
  required_days: number;
  rule_id: string;
  lock_error: string | null;
}

describe('compliance report end to end', () => {
  let h: Harness;
  let dba: string;
  let auditor: string;
  let policyFile: string;
  /** Finance production instances dba may lock: one locked long enough, one too short. */
  const [longEnough, tooShort] = PROD.filter(
    (i) =>
      i.enterpriseProjectId === ENTERPRISE_PROJECTS.finance &&
      i.tags.some((t) => t.key === 'owner'),
  );

  beforeAll(async () => {
    policyFile = compliancePolicyFile();
    h = await startHarness({ POLICY_FILE: policyFile, FLEET_LOCK_CACHE_MS: '0' });
    dba = await h.simulator.mintToken({ sub: 'compliance-dba', groups: ['dba'] });
    auditor = await h.simulator.mintToken({ sub: 'compliance-auditor', groups: ['auditor'] });
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    h.simulator.reset();
    for (const [instance, days] of [
      [longEnough, 90],
      [tooShort, 60],
    ] as const) {
      const answer = await rest(h, 'PUT', lockPath(FLEET, instance.id), {
        token: dba,
        body: lockBody('enable', days),
      });
      expect(answer.status).toBe(200);
    }
  });

  it('reports every covered instance over REST and GraphQL, compliant only when locked long enough', async () => {
    const answer = await rest<{ instances: RestEntry[] }>(
      h,
      'GET',
      `/v1/projects/${FLEET}/compliance`,
      { token: auditor },
    );
    expect(answer.status).toBe(200);
    expect(answer.body.instances.map((e) => e.instance_id)).toEqual(PROD.map((i) => i.id));
    expect(answer.body.instances.filter((e) => e.compliant).map((e) => e.instance_id)).toEqual([
      longEnough.id,
    ]);
    expect(answer.body.instances.find((e) => e.instance_id === tooShort.id)).toEqual({
      instance_id: tooShort.id,
      compliant: false,
      retention_days: 60,
      required_days: 90,
      rule_id: 'finance-prod-retention',
      lock_error: null,
    });
    expect(answer.body.instances.every((e, n) => e.required_days === requiredDays(PROD[n]))).toBe(
      true,
    );

    const report = await graphql(h, REPORT_QUERY, { projectId: FLEET }, auditor);
    expect(report.errors).toBeUndefined();
    const graphqlReport = report.data?.complianceReport as {
      instances: { instanceId: string; compliant: boolean; ruleId: string }[];
    };
    expect(graphqlReport.instances.map((e) => e.instanceId)).toEqual(PROD.map((i) => i.id));
    expect(graphqlReport.instances.find((e) => e.instanceId === longEnough.id)).toMatchObject({
      compliant: true,
      ruleId: 'finance-prod-retention',
    });
  });

  it('answers CSV with a header row under Accept: text/csv', async () => {
    const response = await fetch(`${h.url}/v1/projects/${FLEET}/compliance`, {
      headers: { authorization: `Bearer ${auditor}`, accept: 'text/csv' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await response.text()).split('\r\n');
    expect(lines[0]).toBe('instance_id,compliant,retention_days,required_days,rule_id,lock_error');
    expect(lines).toContain(`${tooShort.id},false,60,90,finance-prod-retention,`);
    expect(lines).toContain(`${longEnough.id},true,90,90,finance-prod-retention,`);
    expect(lines.at(-1)).toBe('');
    expect(lines).toHaveLength(PROD.length + 2);
  });

  it('shows a caller only the covered instances it may see, with unreadable locks not compliant', async () => {
    await injectFault(h, {
      route: 'taurusdb.getLock',
      status: 429,
      retryAfterSeconds: 60,
      times: 1,
    });
    const answer = await rest<{ instances: RestEntry[] }>(
      h,
      'GET',
      `/v1/projects/${FLEET}/compliance`,
      { token: dba },
    );
    expect(answer.status).toBe(200);
    const dbaSees = PROD.filter(
      (i) =>
        (i.enterpriseProjectId === ENTERPRISE_PROJECTS.finance ||
          i.enterpriseProjectId === ENTERPRISE_PROJECTS.default) &&
        i.tags.some((t) => t.key === 'owner'),
    );
    expect(answer.body.instances.map((e) => e.instance_id)).toEqual(dbaSees.map((i) => i.id));
    const unread = answer.body.instances.filter((e) => e.lock_error !== null);
    expect(unread).toEqual([
      expect.objectContaining({ compliant: false, lock_error: 'APIGW.0308' }),
    ]);

    const stranger = await h.simulator.mintToken({ sub: 'compliance-stranger', groups: ['ops'] });
    const denied = await rest(h, 'GET', `/v1/projects/${FLEET}/compliance`, { token: stranger });
    expect(denied.status).toBe(403);
    expect(denied.body.error_code).toBe('GW.POLICY_DENIED');
  });

  it("refreshes the gauge with the gateway's own identity, and refuses COMPLIANCE_PROJECTS in oidc mode", async () => {
    // Nest ends the process on a failed start: the refusal is seen from a process of its own.
    const oidc = launch(GATEWAY_ENTRY, {
      NODE_ENV: 'test',
      TAURUSDB_ENDPOINT: `${h.simulator.url}/{region}`,
      IAM_ENDPOINT: h.simulator.url,
      IAM_IDP_ID: 'test-idp',
      AUTH_JWKS_URL: h.simulator.jwksUrl,
      AUTH_ISSUER: h.simulator.idpIssuer,
      AUTH_AUDIENCE: h.simulator.audience,
      AUDIT_SQLITE_PATH: join(mkdtempSync(join(tmpdir(), 'vlg-audit-')), 'audit.sqlite'),
      POLICY_FILE: policyFile,
      PORT: '0',
      COMPLIANCE_PROJECTS: FLEET,
    });
    const refused = await exitOf(oidc);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/COMPLIANCE_PROJECTS: .*IAM_TOKEN_MODE oidc/s);

    const service = await startHarness(
      {
        POLICY_FILE: policyFile,
        IAM_TOKEN_MODE: 'password',
        IAM_DOMAIN_NAME: SERVICE_ACCOUNT.domainName,
        IAM_USER_NAME: SERVICE_ACCOUNT.userName,
        IAM_PASSWORD: SERVICE_ACCOUNT.password,
        COMPLIANCE_PROJECTS: ` ${FLEET} , ${PROJECTS.cnNorth4.id}`,
      },
      { simulator: h.simulator },
    );
    try {
      const series = `vault_lock_noncompliant_instances{project="${FLEET}"}`;
      let text = '';
      // The first refresh runs in the background once the gateway has started.
      for (let attempt = 0; attempt < 100 && !text.includes(series); attempt++) {
        text = await (await fetch(`${service.url}/metrics`)).text();
        if (!text.includes(series)) await sleep(100);
      }
      expect(text).toContain(`${series} ${PROD.length - 1}`);
      expect(h.simulator.calls()['iam.password']).toBeGreaterThan(0);
    } finally {
      await service.close();
    }
  });
});
