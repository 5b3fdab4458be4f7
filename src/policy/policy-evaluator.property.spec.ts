import fc from 'fast-check';
import { ENTERPRISE_PROJECTS, PROJECTS } from '../simulator/fixtures.js';
import { parseDurationSeconds } from '../domain/duration.js';
import { decide } from './policy-evaluator.js';
import { parsePolicy, type LoadedPolicy } from './policy-loader.js';
import type { PolicyRule } from './policy-rule.js';
import { ACTIONS } from '../domain/actions.js';
import type { PolicyRequest } from './policy.types.js';

/** Small value sets, so that generated rules and requests often match and often do not. */
const GROUPS = ['dba', 'ops', 'auditor'];
const PROJECT_IDS = [PROJECTS.cnNorth4.id, PROJECTS.apSoutheast1.id];
const ENTERPRISE_PROJECT_IDS = Object.values(ENTERPRISE_PROJECTS);
const TAG_KEYS = ['env', 'owner'];
const TAG_VALUES = ['prod', 'staging', 'alice'];

const allowlist = (values: string[]) =>
  fc.uniqueArray(fc.constantFrom('*', ...values), { minLength: 1, maxLength: values.length + 1 });

const ruleBody = fc
  .record(
    {
      groups: allowlist(GROUPS),
      projects: allowlist(PROJECT_IDS),
      enterpriseProjects: allowlist(ENTERPRISE_PROJECT_IDS),
      tags: fc.dictionary(fc.constantFrom(...TAG_KEYS), allowlist(TAG_VALUES), { maxKeys: 2 }),
      actions: fc.uniqueArray(fc.constantFrom(...ACTIONS), { minLength: 1 }),
      maxRetentionDays: fc.integer({ min: 1, max: 36500 }),
      minRetentionDays: fc.integer({ min: 1, max: 36500 }),
      approval: fc.record(
        {
          required: fc.integer({ min: 1, max: 10 }),
          approverGroups: fc.uniqueArray(fc.constantFrom('dba-lead', 'cto'), { minLength: 1 }),
          aboveRetentionDays: fc.integer({ min: 0, max: 36500 }),
        },
        { requiredKeys: ['required', 'approverGroups'] },
      ),
      coolingOff: fc.constantFrom('0s', '90s', '15m', '72h', '30d'),
    },
    { requiredKeys: ['groups', 'projects', 'enterpriseProjects', 'tags', 'actions'] },
  )
  // A minimum above the maximum is refused on load; generated rules are valid ones.
  .map((body) =>
    body.minRetentionDays !== undefined &&
    body.maxRetentionDays !== undefined &&
    body.minRetentionDays > body.maxRetentionDays
      ? {
          ...body,
          minRetentionDays: body.maxRetentionDays,
          maxRetentionDays: body.minRetentionDays,
        }
      : body,
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
    action: fc.constantFrom(...ACTIONS),
    retentionDays: fc.integer({ min: 1, max: 36500 }),
  },
  { requiredKeys: ['groups', 'projectId', 'enterpriseProjectId', 'tags', 'action'] },
);

/** Tags as TaurusDB may list them: keys repeated, in any order. */
const requestWithDuplicateTags: fc.Arbitrary<PolicyRequest> = request.chain((req) =>
  fc
    .array(
      fc.record({ key: fc.constantFrom(...TAG_KEYS), value: fc.constantFrom(...TAG_VALUES) }),
      { maxLength: 5 },
    )
    .map((tags) => ({ ...req, tags })),
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

  it('gives the caller groups, then one reason per rule, in order, when it denies; none when it allows', () => {
    fc.assert(
      fc.property(policyOf(1), request, (policy, req) => {
        const decision = decide(policy, req);
        if (decision.allowed) {
          expect(decision.reasons).toEqual([]);
          expect(decision.explanation).toBeUndefined();
        } else {
          expect(decision.reasons[0]).toBe(
            `caller groups (${req.groups.length}): ${req.groups.join(', ')}`,
          );
          expect(decision.reasons.slice(1).map((reason) => reason.split(':')[0])).toEqual(
            policy.rules.map((rule) => rule.id),
          );
        }
      }),
    );
  });

  it('never tells the caller the instance values, nor the groups of any rule', () => {
    fc.assert(
      fc.property(policyOf(1), request, (policy, req) => {
        const { explanation } = decide(policy, req);
        fc.pre(explanation !== undefined);
        expect(explanation).not.toMatch(/enterprise project|tag /);
        // "0" (the default enterprise project) would also match rule ids; the others are UUIDs.
        if (req.enterpriseProjectId !== '0')
          expect(explanation).not.toContain(req.enterpriseProjectId);
        for (const value of TAG_VALUES) expect(explanation).not.toContain(value);
        for (const group of GROUPS) expect(explanation).not.toContain(group);
      }),
    );
  });

  it('decides the same whatever the order of the instance tags', () => {
    fc.assert(
      fc.property(
        policyOf(1),
        requestWithDuplicateTags,
        fc.infiniteStream(fc.nat()),
        (policy, req, randoms) => {
          const shuffled = [...req.tags]
            .map((tag) => ({ tag, sortKey: randoms.next().value }))
            .sort((a, b) => a.sortKey - b.sortKey)
            .map(({ tag }) => tag);
          expect(decide(policy, { ...req, tags: shuffled })).toEqual(decide(policy, req));
          expect(decide(policy, { ...req, tags: [...req.tags].reverse() })).toEqual(
            decide(policy, req),
          );
        },
      ),
    );
  });

  it('allows a key given more than once only when every one of its values is allowed', () => {
    // One rule that only the tags can fail, so that most cases reach the tags.
    const oneRule = ruleBody.map((body) =>
      load([
        {
          ...body,
          groups: ['*'],
          projects: ['*'],
          enterpriseProjects: ['*'],
          actions: [...ACTIONS],
          maxRetentionDays: undefined,
          minRetentionDays: undefined,
        },
      ]),
    );
    fc.assert(
      fc.property(oneRule, requestWithDuplicateTags, (policy, req) => {
        // Every way of keeping one value per key: the duplicate list is allowed exactly when
        // each of them is.
        const keys = [...new Set(req.tags.map((tag) => tag.key))];
        let selections: { key: string; value: string }[][] = [[]];
        for (const key of keys) {
          const values = req.tags.filter((tag) => tag.key === key);
          selections = selections.flatMap((chosen) => values.map((tag) => [...chosen, tag]));
        }
        const everySelectionAllowed = selections.every(
          (tags) => decide(policy, { ...req, tags }).allowed,
        );
        expect(decide(policy, req).allowed).toBe(everySelectionAllowed);
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

  it('asks what the allowing rule asks of a lock change, never of a read, and nothing when it denies', () => {
    fc.assert(
      fc.property(policyOf(1), request, (policy, req) => {
        const decision = decide(policy, req);
        const rule = policy.rules.find((candidate) => candidate.id === decision.ruleId);
        const change = req.action !== 'show';
        const approval =
          change &&
          rule?.approval !== undefined &&
          (req.retentionDays ?? 0) > rule.approval.aboveRetentionDays
            ? rule.approval
            : undefined;
        expect(decision.approvalsRequired).toBe(approval?.required ?? 0);
        expect(decision.approverGroups).toEqual(approval?.approverGroups ?? []);
        expect(decision.coolingOffSeconds).toBe(
          change && rule ? (parseDurationSeconds(rule.coolingOff) ?? 0) : 0,
        );
      }),
    );
  });

  it('never allows by a rule a retention below its minimum, and names the minimum when it refuses one', () => {
    fc.assert(
      fc.property(policyOf(1), request, (policy, req) => {
        const decision = decide(policy, req);
        const rule = policy.rules.find((candidate) => candidate.id === decision.ruleId);
        if (rule?.minRetentionDays !== undefined && req.retentionDays !== undefined) {
          expect(req.retentionDays).toBeGreaterThanOrEqual(rule.minRetentionDays);
        }
        for (const candidate of policy.rules) {
          const alone = decide(withRules(policy, [candidate]), req);
          const below =
            candidate.minRetentionDays !== undefined &&
            req.retentionDays !== undefined &&
            req.retentionDays < candidate.minRetentionDays;
          if (below) {
            expect(alone.reasons[1]).toContain(
              `retention ${req.retentionDays} days is below minRetentionDays ${candidate.minRetentionDays}`,
            );
          }
        }
      }),
    );
  });
});
