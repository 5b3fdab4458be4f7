import type { Action } from '../domain/actions.js';

/** What the policy is asked about: the caller, the instance as TaurusDB describes it, the call. */
export interface PolicyRequest {
  groups: readonly string[];
  projectId: string;
  enterpriseProjectId: string;
  tags: readonly { key: string; value: string }[];
  action: Action;
  retentionDays?: number;
}

/** A caller and an instance, before any one action is asked for. */
export type InstanceRequest = Omit<PolicyRequest, 'action' | 'retentionDays'>;

/** What is known before the instance is looked up. */
export type CallerRequest = Omit<PolicyRequest, 'enterpriseProjectId' | 'tags'>;

export interface PolicyDecision {
  allowed: boolean;
  /** The rule that allowed the request; null when denied. */
  ruleId: string | null;
  /**
   * For the audit row; empty when allowed. On a denial: the caller's groups (once), then one
   * per rule that did not match, naming the rule and what failed, each bounded in length and
   * at most MAX_RULE_REASONS of them.
   */
  reasons: string[];
  /**
   * For the caller, when denied: what it may know, which is its own request and the rules its
   * groups have. Never another rule, and never the instance's enterprise project or tags.
   */
  explanation?: string;
  /** Distinct approvals the allowing rule asks before the change is applied; 0 for none. */
  approvalsRequired: number;
  /** The groups whose members may approve; empty when no approval is asked. */
  approverGroups: string[];
  /** The wait the allowing rule asks between the last approval (or the request) and the PUT. */
  coolingOffSeconds: number;
  policyVersion: string;
}

/** What a rule with `minRetentionDays` asks of the instances it covers. */
export interface RetentionRequirement {
  ruleId: string;
  requiredDays: number;
}
