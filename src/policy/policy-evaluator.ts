import { Injectable } from '@nestjs/common';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import type { LoadedPolicy } from './policy-loader.js';
import { ANY, type PolicyRule } from './policy-rule.js';
import type { CallerRequest, PolicyDecision, PolicyRequest } from './policy.types.js';
import { PolicyStore } from './policy-store.js';

const allows = (allowlist: readonly string[], value: string): boolean =>
  allowlist.includes(ANY) || allowlist.includes(value);

const list = (values: readonly string[]): string => values.join(', ');

/** The conditions that depend on the caller and the request alone, not on the instance. */
function callerFailures(rule: PolicyRule, request: CallerRequest): string[] {
  const failures: string[] = [];
  if (!rule.groups.includes(ANY) && !request.groups.some((group) => rule.groups.includes(group))) {
    failures.push(`caller groups [${list(request.groups)}] not in [${list(rule.groups)}]`);
  }
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
  return failures;
}

function instanceFailures(rule: PolicyRule, request: PolicyRequest): string[] {
  const failures: string[] = [];
  if (!allows(rule.enterpriseProjects, request.enterpriseProjectId)) {
    failures.push(`enterprise project ${request.enterpriseProjectId} not in allowlist`);
  }
  const instanceTags = new Map(request.tags.map((tag) => [tag.key, tag.value]));
  for (const [key, allowed] of Object.entries(rule.tags)) {
    const value = instanceTags.get(key);
    if (value === undefined) {
      failures.push(`tag ${key} missing`);
    } else if (!allows(allowed, value)) {
      failures.push(`tag ${key}=${value} not allowed (allowed: ${list(allowed)})`);
    }
  }
  return failures;
}

function denied(policy: LoadedPolicy, reasons: string[]): PolicyDecision {
  return { allowed: false, ruleId: null, reasons, policyVersion: policy.version };
}

/** The first rule with no failures allows; otherwise a denial with every rule's failures. */
function firstMatch(
  policy: LoadedPolicy,
  failuresOf: (rule: PolicyRule) => string[],
): PolicyDecision {
  const reasons: string[] = [];
  for (const rule of policy.rules) {
    const failures = failuresOf(rule);
    if (failures.length === 0) {
      return { allowed: true, ruleId: rule.id, reasons: [], policyVersion: policy.version };
    }
    reasons.push(`${rule.id}: ${failures.join('; ')}`);
  }
  return denied(policy, reasons);
}

/** Deny by default: the first rule that matches in every respect allows the request. */
export function decide(policy: LoadedPolicy, request: PolicyRequest): PolicyDecision {
  return firstMatch(policy, (rule) => [
    ...callerFailures(rule, request),
    ...instanceFailures(rule, request),
  ]);
}

/**
 * The denial that needs no instance details: when no rule can match whatever the instance,
 * the gateway answers without asking IAM or TaurusDB anything, so a caller with no rights can
 * neither make upstream calls nor learn an instance's enterprise project or tags.
 */
function denyForCaller(policy: LoadedPolicy, request: CallerRequest): PolicyDecision | null {
  const decision = firstMatch(policy, (rule) => callerFailures(rule, request));
  return decision.allowed ? null : decision;
}

@Injectable()
export class PolicyEvaluator {
  constructor(
    private readonly store: PolicyStore,
    private readonly metrics: GatewayMetrics,
  ) {}

  evaluate(request: PolicyRequest): PolicyDecision {
    return this.counted(decide(this.store.current(), request));
  }

  /** A denial decided from the caller alone, or null when the instance must be looked at. */
  denyForCaller(request: CallerRequest): PolicyDecision | null {
    const decision = denyForCaller(this.store.current(), request);
    return decision && this.counted(decision);
  }

  private counted(decision: PolicyDecision): PolicyDecision {
    this.metrics.policyDecisions.inc({
      allowed: String(decision.allowed),
      rule: decision.ruleId ?? 'none',
    });
    return decision;
  }
}
