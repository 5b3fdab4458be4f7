import { Injectable } from '@nestjs/common';
import { boundedText } from '../common/bounded-text.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import type { LoadedPolicy } from './policy-loader.js';
import { ANY, coolingOffSecondsOf, type PolicyRule } from './policy-rule.js';
import { ACTIONS, type Action } from '../domain/actions.js';
import type {
  CallerRequest,
  InstanceRequest,
  PolicyDecision,
  PolicyRequest,
  RetentionRequirement,
} from './policy.types.js';
import { PolicyStore } from './policy-store.js';
import { Tracing } from '../tracing/tracing.js';

/** The attributes of a policy decision's span. */
const DECISION_ATTRIBUTES = {
  /** The rule that allowed the call, or `none`. */
  rule: 'gateway.policy.rule',
  allowed: 'gateway.policy.allowed',
} as const;

const allows = (allowlist: readonly string[], value: string): boolean =>
  allowlist.includes(ANY) || allowlist.includes(value);

const list = (values: readonly string[]): string => values.join(', ');

/** Longest single reason kept in a decision; longer ones are cut. */
export const MAX_REASON_CHARS = 300;
/** Rules whose failures a decision keeps; the others are counted in one last reason. */
export const MAX_RULE_REASONS = 20;

const inGroups = (rule: PolicyRule, request: CallerRequest): boolean =>
  rule.groups.includes(ANY) || request.groups.some((group) => rule.groups.includes(group));

/** The conditions on the request itself (project, action, days); the caller knows all of it. */
function requestFailures(rule: PolicyRule, request: CallerRequest): string[] {
  const failures: string[] = [];
  if (!allows(rule.projects, request.projectId)) {
    failures.push(`project ${request.projectId} not in allowlist`);
  }
  if (!rule.actions.includes(request.action)) {
    failures.push(`action ${request.action} not allowed (allowed: ${list(rule.actions)})`);
  }
  if (
    rule.maxRetentionDays !== undefined &&
    request.retentionDays !== undefined &&
    request.retentionDays > rule.maxRetentionDays
  ) {
    failures.push(
      `retention ${request.retentionDays} days exceeds maxRetentionDays ${rule.maxRetentionDays}`,
    );
  }
  if (
    rule.minRetentionDays !== undefined &&
    request.retentionDays !== undefined &&
    request.retentionDays < rule.minRetentionDays
  ) {
    failures.push(
      `retention ${request.retentionDays} days is below minRetentionDays ${rule.minRetentionDays}`,
    );
  }
  return failures;
}

/**
 * The instance's values against the rule. A tag key may come more than once (TaurusDB's list is
 * not a map): every value of the key must be allowed, so the order of the list never matters.
 */
function instanceFailures(
  rule: PolicyRule,
  request: Pick<PolicyRequest, 'enterpriseProjectId' | 'tags'>,
): string[] {
  const failures: string[] = [];
  if (!allows(rule.enterpriseProjects, request.enterpriseProjectId)) {
    failures.push(`enterprise project ${request.enterpriseProjectId} not in allowlist`);
  }
  for (const [key, allowed] of Object.entries(rule.tags)) {
    const values = request.tags.filter((tag) => tag.key === key).map((tag) => tag.value);
    const refused = [...new Set(values.filter((value) => !allows(allowed, value)))].sort();
    if (values.length === 0) {
      failures.push(`tag ${key} missing`);
    } else if (refused.length > 0) {
      const shown = refused.map((value) => `${key}=${value}`).join(', ');
      failures.push(`tag ${shown} not allowed (allowed: ${list(allowed)})`);
    }
  }
  return failures;
}

/**
 * The strictest `minRetentionDays` of the rules that cover the instance: its project,
 * enterprise project and tags, whoever the caller and whatever the action. The first rule
 * with the largest number names the requirement.
 */
export function retentionRequirement(
  policy: LoadedPolicy,
  instance: InstanceRequest,
): RetentionRequirement | undefined {
  let strictest: RetentionRequirement | undefined;
  for (const rule of policy.rules) {
    const requiredDays = rule.minRetentionDays;
    if (requiredDays === undefined || requiredDays <= (strictest?.requiredDays ?? 0)) continue;
    if (!allows(rule.projects, instance.projectId)) continue;
    if (instanceFailures(rule, instance).length > 0) continue;
    strictest = { ruleId: rule.id, requiredDays };
  }
  return strictest;
}

interface RuleCheck {
  rule: PolicyRule;
  inGroups: boolean;
  requestFailures: string[];
  /** Empty when the instance was not looked at. */
  instanceFailures: string[];
}

const failuresOf = (check: RuleCheck): string[] => [
  ...(check.inGroups ? [] : [`caller in none of the groups [${list(check.rule.groups)}]`]),
  ...check.requestFailures,
  ...check.instanceFailures,
];

/** Bounded reasons for the audit row: the caller's groups once, then each rule's failures. */
function auditReasons(request: CallerRequest, checks: RuleCheck[]): string[] {
  const groups = `caller groups (${request.groups.length}): ${list(request.groups)}`;
  const rules = checks
    .slice(0, MAX_RULE_REASONS)
    .map((check) => `${check.rule.id}: ${failuresOf(check).join('; ')}`);
  if (checks.length > MAX_RULE_REASONS) {
    rules.push(`${checks.length - MAX_RULE_REASONS} more rules did not match`);
  }
  return [groups, ...rules].map((reason) => boundedText(reason, MAX_REASON_CHARS));
}

/**
 * The denial as the caller may hear it. Only rules of its own groups are named, and only for
 * what it asked (project, action, days). Once the instance was looked at, only the rules that
 * cover it are named, so an instance the caller has no rule for stays undescribed.
 */
function explanationFor(
  request: CallerRequest,
  checks: RuleCheck[],
  instanceLookedAt: boolean,
): string {
  const ownRules = checks.filter((check) =>
    instanceLookedAt
      ? check.inGroups &&
        check.instanceFailures.length === 0 &&
        allows(check.rule.projects, request.projectId)
      : check.inGroups,
  );
  if (ownRules.length === 0) {
    const where = instanceLookedAt ? ' on this instance' : '';
    return `no rule allows action ${request.action}${where} for your groups`;
  }
  return ownRules
    .slice(0, MAX_RULE_REASONS)
    .map((check) =>
      boundedText(`rule ${check.rule.id}: ${check.requestFailures.join('; ')}`, MAX_REASON_CHARS),
    )
    .join('; ');
}

type Safeguards = Pick<
  PolicyDecision,
  'approvalsRequired' | 'approverGroups' | 'coolingOffSeconds'
>;

const noSafeguards = (): Safeguards => ({
  approvalsRequired: 0,
  approverGroups: [],
  coolingOffSeconds: 0,
});

/**
 * What the allowing rule asks before a lock change is applied. A read changes nothing, so it
 * is never held back; approval applies only above the rule's `aboveRetentionDays`.
 */
function safeguardsOf(rule: PolicyRule, request: CallerRequest): Safeguards {
  if (request.action === 'show') return noSafeguards();
  const { approval } = rule;
  const needsApproval =
    approval !== undefined && (request.retentionDays ?? 0) > approval.aboveRetentionDays;
  return {
    approvalsRequired: needsApproval ? approval.required : 0,
    approverGroups: needsApproval ? [...approval.approverGroups] : [],
    coolingOffSeconds: coolingOffSecondsOf(rule),
  };
}

/** The first rule with no failures allows; otherwise a denial explained for both audiences. */
function firstMatch(
  policy: LoadedPolicy,
  request: CallerRequest,
  instance: PolicyRequest | undefined,
): PolicyDecision {
  const checks: RuleCheck[] = [];
  for (const rule of policy.rules) {
    const check: RuleCheck = {
      rule,
      inGroups: inGroups(rule, request),
      requestFailures: requestFailures(rule, request),
      instanceFailures: instance ? instanceFailures(rule, instance) : [],
    };
    if (failuresOf(check).length === 0) {
      return {
        allowed: true,
        ruleId: rule.id,
        reasons: [],
        ...safeguardsOf(rule, request),
        policyVersion: policy.version,
      };
    }
    checks.push(check);
  }
  return {
    allowed: false,
    ruleId: null,
    reasons: auditReasons(request, checks),
    ...noSafeguards(),
    explanation: explanationFor(request, checks, instance !== undefined),
    policyVersion: policy.version,
  };
}

/** Deny by default: the first rule that matches in every respect allows the request. */
export function decide(policy: LoadedPolicy, request: PolicyRequest): PolicyDecision {
  return firstMatch(policy, request, request);
}

/**
 * The denial that needs no instance details: when no rule can match whatever the instance,
 * the gateway answers without asking IAM or TaurusDB anything, so a caller with no rights can
 * neither make upstream calls nor learn an instance's enterprise project or tags.
 */
function denyForCaller(policy: LoadedPolicy, request: CallerRequest): PolicyDecision | null {
  const decision = firstMatch(policy, request, undefined);
  return decision.allowed ? null : decision;
}

@Injectable()
export class PolicyEvaluator {
  constructor(
    private readonly store: PolicyStore,
    private readonly metrics: GatewayMetrics,
    private readonly tracing: Tracing,
  ) {}

  evaluate(request: PolicyRequest): PolicyDecision {
    return this.decided(() => decide(this.store.current(), request));
  }

  /**
   * The actions some rule allows this caller on this instance (for any retention), for a
   * listing to show. Not a decision on a call, so not counted as one.
   */
  permittedActions(request: InstanceRequest): Action[] {
    const policy = this.store.current();
    return ACTIONS.filter((action) => decide(policy, { ...request, action }).allowed);
  }

  /** How long the policy says the instance's lock must hold, when a rule says so. */
  retentionRequirement(instance: InstanceRequest): RetentionRequirement | undefined {
    return retentionRequirement(this.store.current(), instance);
  }

  /** A denial decided from the caller alone, or null when the instance must be looked at. */
  denyForCaller(request: CallerRequest): PolicyDecision | null {
    const decision = denyForCaller(this.store.current(), request);
    return decision && this.decided(() => decision);
  }

  /** A decision on a call: counted, and a span of its own. */
  private decided(decide: () => PolicyDecision): PolicyDecision {
    return this.tracing.inSpan('policy decision', {}, (span) => {
      const decision = decide();
      const rule = decision.ruleId ?? 'none';
      this.metrics.policyDecisions.inc({ allowed: String(decision.allowed), rule });
      span.setAttributes({
        [DECISION_ATTRIBUTES.rule]: rule,
        [DECISION_ATTRIBUTES.allowed]: decision.allowed,
      });
      return decision;
    });
  }
}
