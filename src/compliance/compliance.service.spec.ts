import type { CallContext } from '../common/call-context.js';
import { Clock } from '../common/clock.js';
import { GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { Principal } from '../domain/principal.js';
import { LockStateReader } from '../fleet/lock-state-reader.js';
import { PolicyEvaluator, retentionRequirement } from '../policy/policy-evaluator.js';
import type { LoadedPolicy } from '../policy/policy-loader.js';
import type { PolicyRule } from '../policy/policy-rule.js';
import type { PolicyStore } from '../policy/policy-store.js';
import {
  ENTERPRISE_PROJECTS,
  FLEET_INSTANCES,
  PROJECTS,
  type FixtureInstance,
} from '../simulator/fixtures.js';
import { FixtureTaurusDb } from '../taurusdb/testing/fixture-taurusdb.js';
import { UpstreamError } from '../taurusdb/upstream-error.js';
import { ComplianceService } from './compliance.service.js';
import { Tracing } from '../tracing/tracing.js';

const FLEET = PROJECTS.cnNorth4Fleet.id;

/** Built in memory: the loader takes `minRetentionDays` once the rule declares it. */
const rule = (
  fields: Partial<PolicyRule> & { id: string; minRetentionDays?: number },
): PolicyRule =>
  ({
    groups: ['*'],
    projects: ['*'],
    enterpriseProjects: ['*'],
    tags: {},
    actions: ['show'],
    ...fields,
  }) as PolicyRule;

const POLICY: LoadedPolicy = {
  version: 'sha256:test',
  source: 'spec',
  rules: [
    rule({
      id: 'finance-read',
      groups: ['finance'],
      enterpriseProjects: [ENTERPRISE_PROJECTS.finance],
    }),
    rule({ id: 'prod-30', tags: { env: ['prod'] }, minRetentionDays: 30, groups: ['nobody'] }),
    rule({
      id: 'finance-prod-90',
      enterpriseProjects: [ENTERPRISE_PROJECTS.finance],
      tags: { env: ['prod'] },
      minRetentionDays: 90,
      groups: ['nobody'],
    }),
    rule({ id: 'auditors', groups: ['auditor'] }),
  ],
};

const callerIn = (groups: string[]): CallContext => ({
  requestId: 'req-1',
  correlationId: null,
  channel: 'rest',
  principal: new Principal('https://idp.example.test', groups.join('+'), groups, 'raw-jwt'),
  callerAddress: '127.0.0.1',
});

const envOf = (instance: FixtureInstance) => instance.tags.find((tag) => tag.key === 'env')?.value;

describe('compliance against minRetentionDays', () => {
  let taurusDb: FixtureTaurusDb;
  let service: ComplianceService;

  beforeEach(() => {
    taurusDb = new FixtureTaurusDb();
    const evaluator = new PolicyEvaluator(
      { current: () => POLICY } as PolicyStore,
      new GatewayMetrics(),
      new Tracing(),
    );
    service = new ComplianceService(
      taurusDb,
      evaluator,
      new LockStateReader(taurusDb, { concurrency: 4, lockCacheMs: 0 }, new Clock()),
    );
  });

  it('takes the strictest rule that covers the instance, whoever asks', () => {
    const [financeProd, defaultProd] = [
      ENTERPRISE_PROJECTS.finance,
      ENTERPRISE_PROJECTS.default,
    ].map((enterpriseProjectId) => ({
      groups: [],
      projectId: FLEET,
      enterpriseProjectId,
      tags: [{ key: 'env', value: 'prod' }],
    }));
    expect(retentionRequirement(POLICY, financeProd)).toEqual({
      ruleId: 'finance-prod-90',
      requiredDays: 90,
    });
    expect(retentionRequirement(POLICY, defaultProd)).toEqual({
      ruleId: 'prod-30',
      requiredDays: 30,
    });
    expect(retentionRequirement(POLICY, { ...defaultProd, tags: [] })).toBeUndefined();
  });

  it('reports every covered instance an auditor may see, compliant only when locked long enough', async () => {
    const prod = FLEET_INSTANCES.filter((i) => envOf(i) === 'prod');
    const required = (i: FixtureInstance) =>
      i.enterpriseProjectId === ENTERPRISE_PROJECTS.finance ? 90 : 30;
    const [longEnough, tooShort, throttled] = prod.filter((i) => required(i) === 90);
    taurusDb.locks.set(longEnough.id, { action: 'enable', retentionDays: 90 });
    taurusDb.locks.set(tooShort.id, { action: 'enable', retentionDays: 89 });
    taurusDb.lockReadFailures.set(
      throttled.id,
      new UpstreamError('APIGW.0308', 429, 'throttled', {
        outcomeUncertain: false,
        upstreamStatus: 429,
      }),
    );

    const report = await service.report(callerIn(['auditor']), FLEET);

    expect(report.map((entry) => entry.instanceId)).toEqual(prod.map((i) => i.id));
    expect(report.filter((entry) => entry.compliant).map((entry) => entry.instanceId)).toEqual([
      longEnough.id,
    ]);
    expect(report.find((entry) => entry.instanceId === tooShort.id)).toEqual({
      instanceId: tooShort.id,
      compliant: false,
      retentionDays: 89,
      requiredDays: 90,
      ruleId: 'finance-prod-90',
      lockError: null,
    });
    expect(report.find((entry) => entry.instanceId === throttled.id)).toMatchObject({
      compliant: false,
      retentionDays: null,
      lockError: 'APIGW.0308',
    });
  });

  it('shows a caller only the covered instances it may see, and the service all of them', async () => {
    const finance = await service.report(callerIn(['finance']), FLEET);
    const expected = FLEET_INSTANCES.filter(
      (i) => envOf(i) === 'prod' && i.enterpriseProjectId === ENTERPRISE_PROJECTS.finance,
    );
    expect(finance.map((entry) => entry.instanceId)).toEqual(expected.map((i) => i.id));
    const all = await service.reportForService(callerIn([]), FLEET);
    expect(all).toHaveLength(FLEET_INSTANCES.filter((i) => envOf(i) === 'prod').length);
  });

  it('refuses a caller no rule lets see anything, before any upstream call', async () => {
    await expect(service.report(callerIn(['ops']), FLEET)).rejects.toMatchObject({
      errorCode: GwCode.POLICY_DENIED,
    });
    expect(taurusDb.calls).toEqual({ listInstances: 0, showLock: 0 });
  });
});
