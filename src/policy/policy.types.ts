export const POLICY_ACTIONS = ['enable', 'extend', 'show'] as const;

export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** What the policy is asked about: the caller, the instance as TaurusDB describes it, the call. */
export interface PolicyRequest {
  groups: readonly string[];
  projectId: string;
  enterpriseProjectId: string;
  tags: readonly { key: string; value: string }[];
  action: PolicyAction;
  retentionDays?: number;
}

/** What is known before the instance is looked up. */
export type CallerRequest = Omit<PolicyRequest, 'enterpriseProjectId' | 'tags'>;

export interface PolicyDecision {
  allowed: boolean;
  /** The rule that allowed the request; null when denied. */
  ruleId: string | null;
  /** One per rule that did not match, naming the rule and what failed; empty when allowed. */
  reasons: string[];
  policyVersion: string;
}
