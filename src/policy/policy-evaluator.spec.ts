import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CommonModule } from '../common/common.module.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { ENTERPRISE_PROJECTS, INSTANCES, type FixtureInstance } from '../simulator/fixtures.js';
import { stringify } from 'yaml';
import { MAX_REASON_CHARS, PolicyEvaluator, decide } from './policy-evaluator.js';
import { parsePolicy } from './policy-loader.js';
import { PolicyModule } from './policy.module.js';
import type { Action } from '../domain/actions.js';
import type { PolicyDecision, PolicyRequest } from './policy.types.js';

const EXAMPLE_FILE = 'config/policy.example.yaml';
const EXAMPLE_VERSION = `sha256:${createHash('sha256')
  .update(readFileSync(EXAMPLE_FILE))
  .digest('hex')
  .slice(0, 16)}`;

const requestFor = (
  instance: FixtureInstance,
  groups: string[],
  action: Action,
  retentionDays?: number,
): PolicyRequest => ({
  groups,
  projectId: instance.projectId,
  enterpriseProjectId: instance.enterpriseProjectId,
  tags: instance.tags,
  action,
  retentionDays,
});

describe('PolicyEvaluator with the example policy', () => {
  let app: INestApplicationContext;
  let evaluator: PolicyEvaluator;

  beforeAll(async () => {
    // The example policy has a four-eyes rule: oidc mode needs a service account for it.
    Object.assign(process.env, {
      POLICY_FILE: EXAMPLE_FILE,
      IAM_ENDPOINT: 'http://127.0.0.1:9',
      IAM_TOKEN_MODE: 'oidc',
      IAM_IDP_ID: 'idp',
      IAM_DOMAIN_NAME: 'sim-domain',
      IAM_USER_NAME: 'sim-service',
      IAM_PASSWORD: 'sim-password',
    });
    const moduleRef = await Test.createTestingModule({
      imports: [CommonModule, PolicyModule],
    }).compile();
    app = await moduleRef.init();
    evaluator = app.get(PolicyEvaluator);
  });

  afterAll(() => app.close());

  it.each([
    ['enable on finance prod', INSTANCES.financeProd, 'enable', 3650],
    ['extend on finance staging', INSTANCES.financeStaging, 'extend', 30],
    [
      'enable in the default enterprise project of the other region',
      INSTANCES.apacProd,
      'enable',
      1,
    ],
    ['show on finance prod', INSTANCES.financeProd, 'show', undefined],
  ] as const)('allows a DBA to %s', (_name, instance, action, days) => {
    expect(evaluator.evaluate(requestFor(instance, ['dba'], action, days))).toEqual({
      allowed: true,
      ruleId: 'finance-dba',
      reasons: [],
      approvalsRequired: 0,
      approverGroups: [],
      coolingOffSeconds: 0,
      policyVersion: EXAMPLE_VERSION,
    });
  });

  it('denies another enterprise project, with a reason for every rule', () => {
    expect(evaluator.evaluate(requestFor(INSTANCES.marketingProd, ['dba'], 'enable', 30))).toEqual({
      allowed: false,
      ruleId: null,
      reasons: [
        'caller groups (1): dba',
        `finance-dba: enterprise project ${ENTERPRISE_PROJECTS.marketing} not in allowlist`,
        'auditors-read: caller in none of the groups [auditor]; action enable not allowed (allowed: show)',
        'marketing-four-eyes: caller in none of the groups [marketing-dba]',
      ],
      explanation: 'no rule allows action enable on this instance for your groups',
      approvalsRequired: 0,
      approverGroups: [],
      coolingOffSeconds: 0,
      policyVersion: EXAMPLE_VERSION,
    });
  });

  it('denies a tag value outside the allowlist', () => {
    const decision = evaluator.evaluate(requestFor(INSTANCES.financeDev, ['dba'], 'enable', 30));
    expect(decision.allowed).toBe(false);
    expect(decision.reasons[1]).toBe(
      'finance-dba: tag env=dev not allowed (allowed: prod, staging)',
    );
  });

  it('denies when a required tag key is missing, even though its values may be anything', () => {
    const decision = evaluator.evaluate(
      requestFor(INSTANCES.financeUnowned, ['dba'], 'extend', 30),
    );
    expect(decision.allowed).toBe(false);
    expect(decision.reasons[1]).toBe('finance-dba: tag owner missing');
  });

  it('matches tag keys and values case-sensitively', () => {
    const request = {
      ...requestFor(INSTANCES.financeProd, ['dba'], 'enable', 30),
      tags: [
        { key: 'Env', value: 'prod' },
        { key: 'owner', value: 'alice' },
      ],
    };
    expect(evaluator.evaluate(request).reasons[1]).toBe('finance-dba: tag env missing');
    const upperValue = {
      ...request,
      tags: [
        { key: 'env', value: 'PROD' },
        { key: 'owner', value: 'alice' },
      ],
    };
    expect(evaluator.evaluate(upperValue).reasons[1]).toBe(
      'finance-dba: tag env=PROD not allowed (allowed: prod, staging)',
    );
  });

  it('denies a retention above the rule maximum, and allows the maximum itself', () => {
    const over = evaluator.evaluate(requestFor(INSTANCES.financeProd, ['dba'], 'extend', 3651));
    expect(over.allowed).toBe(false);
    expect(over.reasons[1]).toBe('finance-dba: retention 3651 days exceeds maxRetentionDays 3650');
    // The caller's own rule matches the instance: it may hear why, in terms of its request.
    expect(over.explanation).toBe(
      'rule finance-dba: retention 3651 days exceeds maxRetentionDays 3650',
    );
    expect(
      evaluator.evaluate(requestFor(INSTANCES.financeProd, ['dba'], 'extend', 3650)).allowed,
    ).toBe(true);
  });

  it('denies a caller outside the rule groups, naming the groups in the row only', () => {
    const decision = evaluator.evaluate(requestFor(INSTANCES.financeProd, ['ops'], 'enable', 30));
    expect(decision.reasons).toEqual([
      'caller groups (1): ops',
      'finance-dba: caller in none of the groups [dba]',
      'auditors-read: caller in none of the groups [auditor]; action enable not allowed (allowed: show)',
      `marketing-four-eyes: caller in none of the groups [marketing-dba]; enterprise project ${ENTERPRISE_PROJECTS.finance} not in allowlist`,
    ]);
    expect(decision.explanation).toBe(
      'no rule allows action enable on this instance for your groups',
    );
  });

  it('lets auditors read any instance but not lock one', () => {
    const show = evaluator.evaluate(requestFor(INSTANCES.marketingProd, ['auditor'], 'show'));
    expect(show).toMatchObject({ allowed: true, ruleId: 'auditors-read', reasons: [] });
    const enable = evaluator.evaluate(
      requestFor(INSTANCES.marketingProd, ['auditor'], 'enable', 1),
    );
    expect(enable).toMatchObject({ allowed: false, ruleId: null });
  });

  it('lets the first rule that matches decide', () => {
    const both = ['dba', 'auditor'];
    expect(evaluator.evaluate(requestFor(INSTANCES.financeProd, both, 'show')).ruleId).toBe(
      'finance-dba',
    );
    expect(evaluator.evaluate(requestFor(INSTANCES.marketingProd, both, 'show')).ruleId).toBe(
      'auditors-read',
    );
  });

  it('denies a caller with no groups at all', () => {
    expect(evaluator.evaluate(requestFor(INSTANCES.financeProd, [], 'show')).reasons).toEqual([
      'caller groups (0): ',
      'finance-dba: caller in none of the groups [dba]',
      'auditors-read: caller in none of the groups [auditor]',
      `marketing-four-eyes: caller in none of the groups [marketing-dba]; action show not allowed (allowed: enable); enterprise project ${ENTERPRISE_PROJECTS.finance} not in allowlist`,
    ]);
  });

  it('decides the same whatever the order of duplicate tag keys: every value must be allowed', () => {
    const withEnv = (...values: string[]) => ({
      ...requestFor(INSTANCES.financeProd, ['dba'], 'enable', 30),
      tags: [...values.map((value) => ({ key: 'env', value })), { key: 'owner', value: 'alice' }],
    });
    for (const values of [
      ['dev', 'prod'],
      ['prod', 'dev'],
    ]) {
      const decision = evaluator.evaluate(withEnv(...values));
      expect(decision.allowed).toBe(false);
      expect(decision.reasons[1]).toBe(
        'finance-dba: tag env=dev not allowed (allowed: prod, staging)',
      );
    }
    expect(evaluator.evaluate(withEnv('prod', 'staging')).allowed).toBe(true);
  });

  it('tells the caller nothing of an instance it has no rule for, nor of other rules', () => {
    for (const [instance, groups] of [
      [INSTANCES.marketingProd, ['dba']],
      [INSTANCES.financeDev, ['dba']],
      [INSTANCES.financeUnowned, ['dba']],
      [INSTANCES.financeProd, ['ops']],
    ] as const) {
      const { explanation, reasons } = evaluator.evaluate(
        requestFor(instance, [...groups], 'enable', 30),
      );
      expect(explanation).toBe('no rule allows action enable on this instance for your groups');
      expect(reasons.join(' ')).toContain('finance-dba:');
    }
  });

  it('bounds the reasons of a caller with many groups, listing its groups once', () => {
    const groups = Array.from({ length: 850 }, (_, i) => `team-${String(i).padStart(4, '0')}-x`);
    const decision = evaluator.evaluate(requestFor(INSTANCES.marketingProd, groups, 'enable', 30));
    expect(decision.explanation).toBe(
      'no rule allows action enable on this instance for your groups',
    );
    expect(decision.reasons).toHaveLength(4);
    expect(decision.reasons[0].startsWith('caller groups (850): team-0000-x, team-0001-x')).toBe(
      true,
    );
    for (const reason of decision.reasons) {
      expect(reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
    }
    expect(decision.reasons.slice(1).join(' ')).not.toContain('team-');
  });

  it('asks two DBA leads and 72 hours before a marketing DBA enables a lock', () => {
    const decision = evaluator.evaluate(
      requestFor(INSTANCES.marketingProd, ['marketing-dba'], 'enable', 30),
    );
    expect(decision).toEqual({
      allowed: true,
      ruleId: 'marketing-four-eyes',
      reasons: [],
      approvalsRequired: 2,
      approverGroups: ['dba-lead'],
      coolingOffSeconds: 72 * 3600,
      policyVersion: EXAMPLE_VERSION,
    });
  });

  it('denies a retention below the rule minimum, telling the caller the rule and the minimum', () => {
    const under = evaluator.evaluate(
      requestFor(INSTANCES.marketingProd, ['marketing-dba'], 'enable', 6),
    );
    expect(under).toMatchObject({
      allowed: false,
      ruleId: null,
      approvalsRequired: 0,
      approverGroups: [],
      coolingOffSeconds: 0,
      explanation: 'rule marketing-four-eyes: retention 6 days is below minRetentionDays 7',
    });
    expect(under.reasons).toContain(
      'marketing-four-eyes: retention 6 days is below minRetentionDays 7',
    );
    expect(
      evaluator.evaluate(requestFor(INSTANCES.marketingProd, ['marketing-dba'], 'enable', 7))
        .allowed,
    ).toBe(true);
  });

  it('counts decisions by result and rule', async () => {
    const metrics = app.get(GatewayMetrics);
    const count = async (allowed: string, rule: string) =>
      (await metrics.policyDecisions.get()).values.find(
        (value) => value.labels.allowed === allowed && value.labels.rule === rule,
      )?.value ?? 0;
    const allowedBefore = await count('true', 'finance-dba');
    const deniedBefore = await count('false', 'none');

    evaluator.evaluate(requestFor(INSTANCES.financeProd, ['dba'], 'enable', 30));
    evaluator.evaluate(requestFor(INSTANCES.financeDev, ['dba'], 'enable', 30));
    evaluator.evaluate(requestFor(INSTANCES.financeDev, ['dba'], 'enable', 30));

    expect(await count('true', 'finance-dba')).toBe(allowedBefore + 1);
    expect(await count('false', 'none')).toBe(deniedBefore + 2);
  });

  it('names the actions a caller may take on an instance, without counting decisions', async () => {
    const metrics = app.get(GatewayMetrics);
    const total = async () =>
      (await metrics.policyDecisions.get()).values.reduce((sum, value) => sum + value.value, 0);
    const before = await total();
    const on = (instance: FixtureInstance, groups: string[]) =>
      evaluator.permittedActions({
        groups,
        projectId: instance.projectId,
        enterpriseProjectId: instance.enterpriseProjectId,
        tags: instance.tags,
      });

    expect(on(INSTANCES.financeProd, ['dba'])).toEqual(['enable', 'extend', 'show']);
    expect(on(INSTANCES.marketingProd, ['dba'])).toEqual([]);
    expect(on(INSTANCES.marketingProd, ['auditor'])).toEqual(['show']);
    expect(on(INSTANCES.financeDev, ['dba', 'auditor'])).toEqual(['show']);
    expect(await total()).toBe(before);
  });
});

describe('decide: approval and cooling-off', () => {
  const policy = parsePolicy(
    stringify({
      version: 1,
      rules: [
        {
          id: 'long-locks',
          groups: ['dba'],
          projects: ['*'],
          enterpriseProjects: ['*'],
          tags: {},
          actions: ['enable', 'extend', 'show'],
          approval: { required: 3, approverGroups: ['dba-lead', 'cto'], aboveRetentionDays: 30 },
          coolingOff: '90s',
        },
        {
          id: 'ops-short',
          groups: ['ops'],
          projects: ['*'],
          enterpriseProjects: ['*'],
          tags: {},
          actions: ['enable'],
          coolingOff: '15m',
        },
      ],
    }),
    'inline.yaml',
  );
  const ask = (groups: string[], action: Action, retentionDays?: number) =>
    decide(policy, requestFor(INSTANCES.financeProd, groups, action, retentionDays));
  const safeguards = ({
    approvalsRequired,
    approverGroups,
    coolingOffSeconds,
  }: PolicyDecision) => ({
    approvalsRequired,
    approverGroups,
    coolingOffSeconds,
  });

  it.each([
    ['enable above aboveRetentionDays', 'enable', 31, 3, ['dba-lead', 'cto'], 90],
    ['extend above aboveRetentionDays', 'extend', 365, 3, ['dba-lead', 'cto'], 90],
    ['enable at aboveRetentionDays: cooling-off only', 'enable', 30, 0, [], 90],
    ['show: never held back', 'show', undefined, 0, [], 0],
  ] as const)('%s', (_name, action, days, approvals, groups, seconds) => {
    expect(safeguards(ask(['dba'], action, days))).toEqual({
      approvalsRequired: approvals,
      approverGroups: groups,
      coolingOffSeconds: seconds,
    });
  });

  it('asks cooling-off alone of a rule without approval', () => {
    expect(safeguards(ask(['ops'], 'enable', 400))).toEqual({
      approvalsRequired: 0,
      approverGroups: [],
      coolingOffSeconds: 900,
    });
  });

  it('asks nothing when it denies', () => {
    const denied = ask(['ops'], 'extend', 400);
    expect(denied.allowed).toBe(false);
    expect(safeguards(denied)).toEqual({
      approvalsRequired: 0,
      approverGroups: [],
      coolingOffSeconds: 0,
    });
  });
});
