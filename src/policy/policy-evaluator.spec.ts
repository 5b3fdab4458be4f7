import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CommonModule } from '../common/common.module.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { ENTERPRISE_PROJECTS, INSTANCES, type FixtureInstance } from '../simulator/fixtures.js';
import { PolicyEvaluator } from './policy-evaluator.js';
import { PolicyModule } from './policy.module.js';
import type { PolicyAction, PolicyRequest } from './policy.types.js';

const EXAMPLE_FILE = 'config/policy.example.yaml';
const EXAMPLE_VERSION = `sha256:${createHash('sha256')
  .update(readFileSync(EXAMPLE_FILE))
  .digest('hex')
  .slice(0, 16)}`;

const requestFor = (
  instance: FixtureInstance,
  groups: string[],
  action: PolicyAction,
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
    process.env.POLICY_FILE = EXAMPLE_FILE;
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
      policyVersion: EXAMPLE_VERSION,
    });
  });

  it('denies another enterprise project, with a reason for every rule', () => {
    expect(evaluator.evaluate(requestFor(INSTANCES.marketingProd, ['dba'], 'enable', 30))).toEqual({
      allowed: false,
      ruleId: null,
      reasons: [
        `finance-dba: enterprise project ${ENTERPRISE_PROJECTS.marketing} not in allowlist`,
        'auditors-read: caller groups [dba] not in [auditor]; action enable not allowed (allowed: show)',
      ],
      policyVersion: EXAMPLE_VERSION,
    });
  });

  it('denies a tag value outside the allowlist', () => {
    const decision = evaluator.evaluate(requestFor(INSTANCES.financeDev, ['dba'], 'enable', 30));
    expect(decision.allowed).toBe(false);
    expect(decision.reasons[0]).toBe(
      'finance-dba: tag env=dev not allowed (allowed: prod, staging)',
    );
  });

  it('denies when a required tag key is missing, even though its values may be anything', () => {
    const decision = evaluator.evaluate(
      requestFor(INSTANCES.financeUnowned, ['dba'], 'extend', 30),
    );
    expect(decision.allowed).toBe(false);
    expect(decision.reasons[0]).toBe('finance-dba: tag owner missing');
  });

  it('matches tag keys and values case-sensitively', () => {
    const request = {
      ...requestFor(INSTANCES.financeProd, ['dba'], 'enable', 30),
      tags: [
        { key: 'Env', value: 'prod' },
        { key: 'owner', value: 'alice' },
      ],
    };
    expect(evaluator.evaluate(request).reasons[0]).toBe('finance-dba: tag env missing');
    const upperValue = {
      ...request,
      tags: [
        { key: 'env', value: 'PROD' },
        { key: 'owner', value: 'alice' },
      ],
    };
    expect(evaluator.evaluate(upperValue).reasons[0]).toBe(
      'finance-dba: tag env=PROD not allowed (allowed: prod, staging)',
    );
  });

  it('denies a retention above the rule maximum, and allows the maximum itself', () => {
    const over = evaluator.evaluate(requestFor(INSTANCES.financeProd, ['dba'], 'extend', 3651));
    expect(over.allowed).toBe(false);
    expect(over.reasons[0]).toBe('finance-dba: retention 3651 days exceeds maxRetentionDays 3650');
    expect(
      evaluator.evaluate(requestFor(INSTANCES.financeProd, ['dba'], 'extend', 3650)).allowed,
    ).toBe(true);
  });

  it('denies a caller outside the rule groups, naming the groups', () => {
    const decision = evaluator.evaluate(requestFor(INSTANCES.financeProd, ['ops'], 'enable', 30));
    expect(decision.reasons).toEqual([
      'finance-dba: caller groups [ops] not in [dba]',
      'auditors-read: caller groups [ops] not in [auditor]; action enable not allowed (allowed: show)',
    ]);
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
      'finance-dba: caller groups [] not in [dba]',
      'auditors-read: caller groups [] not in [auditor]',
    ]);
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
});
