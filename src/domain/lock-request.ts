import type { VaultLockAction } from './actions.js';

/** The states of a lock request (DESIGN §6). */
export const LOCK_REQUEST_STATES = [
  'PENDING_APPROVAL',
  'SCHEDULED',
  'EXECUTING',
  'SUCCEEDED',
  'FAILED',
  'UNKNOWN',
  'DENIED',
  'CANCELLED',
  'EXPIRED',
  'VOIDED',
] as const;
export type LockRequestState = (typeof LOCK_REQUEST_STATES)[number];

/** States a request never leaves. UNKNOWN is not one: reading the lock settles it. */
export const ENDED_LOCK_REQUEST_STATES: readonly LockRequestState[] = [
  'SUCCEEDED',
  'FAILED',
  'DENIED',
  'CANCELLED',
  'EXPIRED',
  'VOIDED',
];

export type ApprovalDecision = 'approve' | 'deny';

/** One approver's word on a request. */
export interface Approval {
  approverIss: string;
  approverSub: string;
  decision: ApprovalDecision;
  comment: string | null;
  /** ISO time. */
  at: string;
}

/** The lock as it was read when the request was made; approvals bind to it. */
export interface LockSnapshot {
  enabled: boolean;
  retentionDays: number | null;
  /** Epoch ms of the lock's end, as TaurusDB reported it; null when not locked. */
  endsAtMs: number | null;
}

/**
 * A lock change waiting for approvals or its cooling-off, then executed in the background
 * (DESIGN §6). Stored as is by every LockRequestStore; times are ISO strings of the gateway clock.
 */
export interface LockRequest {
  /** A UUIDv7: newest sorts last. */
  id: string;
  state: LockRequestState;
  projectId: string;
  instanceId: string;
  action: VaultLockAction;
  retentionDays: number;
  requesterIss: string;
  requesterSub: string;
  /**
   * The requester's groups when it was made: just before execution the policy is asked again
   * about the same caller, and a different answer voids the request.
   */
  requesterGroups: string[];
  /** The rule that allowed it and the policy version, as decided when it was made. */
  ruleId: string;
  policyVersion: string;
  approvalsRequired: number;
  approverGroups: string[];
  coolingOffSeconds: number;
  approvals: Approval[];
  lockAtRequest: LockSnapshot;
  /**
   * SHA-256 hex of project, instance, action, days and lockAtRequest: what the approvals bind
   * to. Execution recomputes it from a fresh read and voids the request on any difference.
   */
  fingerprint: string;
  /** Earliest execution; null while approvals are missing. */
  notBefore: string | null;
  /**
   * While PENDING_APPROVAL: when the approval TTL runs out. Once SCHEDULED: notBefore plus the
   * execution window. Afterwards: the last deadline that applied.
   */
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  /** Why it ended as it did (denied, voided, failed, unknown), for people. */
  reason: string | null;
  /** While EXECUTING: the replica that claimed it and until when its claim holds. */
  executor: string | null;
  claimUntil: string | null;
  /** The audit row of the PUT, once execution began. */
  executionAuditId: string | null;
  /**
   * While UNKNOWN, once a reading of the lock proved nothing: when the lock is read again. Null
   * before the first reading, which waits only for a late PUT's grace.
   */
  nextReadingAt: string | null;
  /** Bumped on every write; the compare-and-set of every transition. */
  version: number;
}
