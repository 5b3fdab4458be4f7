import { Injectable } from '@nestjs/common';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import type { LoadedPolicy } from './policy-loader.js';
import { ANY, type PolicyRule } from './policy-rule.js';
import type { PolicyDecision, PolicyRequest } from './policy.types.js';
import { PolicyStore } from './policy-store.js';

const allows = (allowlist: readonly string[], value: string): boolean =>
  allowlist.includes(ANY) || allowlist.includes(value);

const list = (values: readonly string[]): string => values.join(', ');

/** Every condition of the rule the request fails, in words; empty when the rule matches. */
function failedConditions(rule: PolicyRule, request: PolicyRequest): string[] {
  const failures: string[] = [];
  if (!rule.groups.includes(ANY) && !request.groups.some((group) => rule.groups.includes(group))) {
    failures.push(`caller groups [${list(request.groups)}] not in [${list(rule.groups)}]`);
  }
  if (!allows(rule.projects, request.projectId)) {
    failures.push(`project ${request.projectId} not in allowlist`);
  }
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

/** Deny by default: the first rule that matches in every respect allows the request. */
export function decide(policy: LoadedPolicy, request: PolicyRequest): PolicyDecision {
  const reasons: string[] = [];
  for (const rule of policy.rules) {
    const failures = failedConditions(rule, request);
    if (failures.length === 0) {
      return { allowed: true, ruleId: rule.id, reasons: [], policyVersion: policy.version };
    }
    reasons.push(`${rule.id}: ${failures.join('; ')}`);
  }
  return { allowed: false, ruleId: null, reasons, policyVersion: policy.version };
}

@Injectable()
export class PolicyEvaluator {
  constructor(
    private readonly store: PolicyStore,
    private readonly metrics: GatewayMetrics,
  ) {}

  evaluate(request: PolicyRequest): PolicyDecision {
    const decision = decide(this.store.current(), request);
    this.metrics.policyDecisions.inc({
      allowed: String(decision.allowed),
      rule: decision.ruleId ?? 'none',
    });
    return decision;
  }
}
