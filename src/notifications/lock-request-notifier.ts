import type { VaultLockAction } from '../domain/actions.js';
import type {
  Approval,
  ApprovalDecision,
  LockRequest,
  LockRequestState,
} from '../domain/lock-request.js';
import { principalId } from '../domain/principal.js';

/** A lock request as receivers see it: the fields of DESIGN §6's LockRequest, snake_case. */
export interface LockRequestJson {
  id: string;
  state: LockRequestState;
  project_id: string;
  instance_id: string;
  action: VaultLockAction;
  lock_retention_days: number;
  /** `iss#sub`. */
  requester: string;
  approvals_required: number;
  approvals: ApprovalJson[];
  not_before: string | null;
  expires_at: string;
  created_at: string;
  updated_at: string;
  reason: string | null;
}

export interface ApprovalJson {
  /** `iss#sub`. */
  approver: string;
  decision: ApprovalDecision;
  comment: string | null;
  at: string;
}

export type LockRequestEventName = `lock_request.${Lowercase<LockRequestState>}`;

/** One state change of one lock request. */
export interface LockRequestEvent {
  event: LockRequestEventName;
  lockRequest: LockRequestJson;
  /** When the change happened: the request's `updatedAt`. */
  at: string;
}

/** The event of the state `request` has just entered. */
export function lockRequestEvent(request: LockRequest): LockRequestEvent {
  return {
    event: `lock_request.${request.state.toLowerCase() as Lowercase<LockRequestState>}`,
    lockRequest: lockRequestJson(request),
    at: request.updatedAt,
  };
}

export function lockRequestJson(request: LockRequest): LockRequestJson {
  return {
    id: request.id,
    state: request.state,
    project_id: request.projectId,
    instance_id: request.instanceId,
    action: request.action,
    lock_retention_days: request.retentionDays,
    requester: principalId(request.requesterIss, request.requesterSub),
    approvals_required: request.approvalsRequired,
    approvals: request.approvals.map(approvalJson),
    not_before: request.notBefore,
    expires_at: request.expiresAt,
    created_at: request.createdAt,
    updated_at: request.updatedAt,
    reason: request.reason,
  };
}

function approvalJson(approval: Approval): ApprovalJson {
  return {
    approver: principalId(approval.approverIss, approval.approverSub),
    decision: approval.decision,
    comment: approval.comment,
    at: approval.at,
  };
}

/**
 * Tells the outside world that a lock request changed state (DESIGN §6). `notify` returns at
 * once and never throws: delivery happens later, and its failure never reaches the caller.
 */
export abstract class LockRequestNotifier {
  abstract notify(event: LockRequestEvent): void;
}

/** Without `NOTIFY_WEBHOOK_URL` nobody is told. */
export class NoWebhookLockRequestNotifier extends LockRequestNotifier {
  notify(): void {}
}
