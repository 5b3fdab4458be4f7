import fc from 'fast-check';
import { ENTERPRISE_PROJECTS, PROJECTS } from '../simulator/fixtures.js';
import { decide } from './policy-evaluator.js';
import { parsePolicy, type LoadedPolicy } from './policy-loader.js';
import type { PolicyRule } from './policy-rule.js';
import { POLICY_ACTIONS, type PolicyRequest } from './policy.types.js';

/** Small value sets, so that generated rules and requests often match and often do not. */
const GROUPS = ['dba', 'ops', 'auditor'];
const PROJECT_IDS = [PROJECTS.cnNorth4.id, PROJECTS.apSoutheast1.id];
const ENTERPRISE_PROJECT_IDS = Object.values(ENTERPRISE_PROJECTS);
const TAG_KEYS = ['env', 'owner'];
const TAG_VALUES = ['prod', 'staging', 'alice'];

const allowlist = (values: string[]) =>
  fc.uniqueArray(fc.constantFrom('*', ...values), { minLength: 1, maxLength: values.length + 1 });

const ruleBody = fc.record(
  {
    groups: allowlist(GROUPS),
    projects: allowlist(PROJECT_IDS),
    enterpriseProjects: allowlist(ENTERPRISE_PROJECT_IDS),
    tags: fc.dictionary(fc.constantFrom(...TAG_KEYS), allowlist(TAG_VALUES), { maxKeys: 2 }),
    actions: fc.uniqueArray(fc.constantFrom(...POLICY_ACTIONS), { minLength: 1 }),
    maxRetentionDays: fc.integer({ min: 1, max: 36500 }),
  },
  { requiredKeys: ['groups', 'projects', 'enterpriseProjects', 'tags', 'actions'] },
);

type RuleBody = typeof ruleBody extends fc.Arbitrary<infer T> ? T : never;

/** Goes through the loader, so the properties hold for policies as they are really loaded. */
const load = (bodies: RuleBody[]): LoadedPolicy =>
  parsePolicy(
    JSON.stringify({ version: 1, rules: bodies.map((body, i) => ({ id: `rule-${i}`, ...body })) }),
    'generated.json',
  );

const policyOf = (rules: number) =>
  fc.array(ruleBody, { minLength: rules, maxLength: rules + 4 }).map(load);

const withRules = (policy: LoadedPolicy, rules: readonly PolicyRule[]): LoadedPolicy => ({
  ...policy,
  rules,
});

const request: fc.Arbitrary<PolicyRequest> = fc.record(
  {
    groups: fc.uniqueArray(fc.constantFrom(...GROUPS)),
    projectId: fc.constantFrom(...PROJECT_IDS),
    enterpriseProjectId: fc.constantFrom(...ENTERPRISE_PROJECT_IDS),
    tags: fc
      .dictionary(fc.constantFrom(...TAG_KEYS), fc.constantFrom(...TAG_VALUES))
      .map((tags) => Object.entries(tags).map(([key, value]) => ({ key, value }))),
    action: fc.constantFrom(...POLICY_ACTIONS),
    retentionDays: fc.integer({ min: 1, max: 36500 }),
  },
  { requiredKeys: ['groups', 'projectId', 'enterpriseProjectId', 'tags', 'action'] },
);

describe('policy decisions (properties)', () => {
  it('allows only by the first rule that allows on its own, and denies otherwise', () => {
    fc.assert(
      fc.property(policyOf(1), request, (policy, req) => {
        const decision = decide(policy, req);
        const firstAllowing = policy.rules.find(
          (rule) => decide(withRules(policy, [rule]), req).allowed,
        );
        expect(decision.allowed).toBe(firstAllowing !== undefined);
        expect(decision.ruleId).toBe(firstAllowing?.id ?? null);
      }),
    );
  });

  it('gives one reason per rule, in order, when it denies, and none when it allows', () => {
    fc.assert(
      fc.property(policyOf(1), request, (policy, req) => {
        const decision = decide(policy, req);
        if (decision.allowed) {
          expect(decision.reasons).toEqual([]);
        } else {
          expect(decision.reasons.map((reason) => reason.split(':')[0])).toEqual(
            policy.rules.map((rule) => rule.id),
          );
        }
      }),
    );
  });

  it('never allows a caller that no rule names', () => {
    const withoutAnyCaller = fc
      .array(ruleBody, { minLength: 1, maxLength: 5 })
      .filter((bodies) => bodies.every((body) => !body.groups.includes('*')))
      .map(load);
    fc.assert(
      fc.property(withoutAnyCaller, request, (policy, req) => {
        const named = new Set(policy.rules.flatMap((rule) => rule.groups));
        const stranger = { ...req, groups: GROUPS.filter((group) => !named.has(group)) };
        expect(decide(policy, stranger).allowed).toBe(false);
      }),
    );
  });

  it('keeps the decision when a rule that does not match is added anywhere', () => {
    fc.assert(
      fc.property(policyOf(2), request, fc.nat(), (policy, req, at) => {
        const extra = policy.rules[policy.rules.length - 1];
        const rules = policy.rules.slice(0, -1);
        fc.pre(!decide(withRules(policy, [extra]), req).allowed);
        const position = at % (rules.length + 1);
        const extended = [...rules.slice(0, position), extra, ...rules.slice(position)];

        const before = decide(withRules(policy, rules), req);
        const after = decide(withRules(policy, extended), req);
        expect(after.allowed).toBe(before.allowed);
        expect(after.ruleId).toBe(before.ruleId);
      }),
    );
  });
});
