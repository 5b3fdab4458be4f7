import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { GwCode } from '../common/gateway-error.js';
import type { VaultLockAction } from '../domain/actions.js';
import {
  ENDED_LOCK_REQUEST_STATES,
  type Approval,
  type LockRequest,
  type LockRequestState,
  type LockSnapshot,
} from '../domain/lock-request.js';

/**
 * The lock request state machine of DESIGN §6 as pure functions: each takes a request, who acts,
 * the time and the settings, and answers either the next request (version + 1, `updatedAt` set)
 * or a refusal with the error code the caller hears. Nothing here reads or writes: the service
 * records the audit row, compare-and-sets the store on `version`, and notifies.
 */

/** Who acts on a request: a caller's principal and groups. */
export interface LockRequestActor {
  iss: string;
  sub: string;
  groups: readonly string[];
}

/** The deadlines that are settings, not policy (APPROVAL_TTL, EXECUTION_WINDOW). */
export interface LockRequestTimings {
  approvalTtlSeconds: number;
  executionWindowSeconds: number;
}

/** The refusals of a transition, and the status each is answered with. */
const REFUSAL_STATUS = {
  [GwCode.NOT_AN_APPROVER]: 403,
  [GwCode.SELF_APPROVAL]: 403,
  [GwCode.ALREADY_DECIDED]: 409,
  [GwCode.REQUEST_CLOSED]: 409,
  [GwCode.REQUEST_NOT_DUE]: 409,
  [GwCode.REQUEST_CHANGED]: 409,
  [GwCode.NOT_FOUND]: 404,
} as const;
export type LockRequestRefusalCode = keyof typeof REFUSAL_STATUS;

export interface LockRequestRefusal {
  errorCode: LockRequestRefusalCode;
  status: number;
  message: string;
}

export type LockRequestTransition =
  { ok: true; request: LockRequest } | { ok: false; refusal: LockRequestRefusal };

/** What the request is made of, before any state. */
export interface NewLockRequest {
  id: string;
  projectId: string;
  instanceId: string;
  action: VaultLockAction;
  retentionDays: number;
  requesterIss: string;
  requesterSub: string;
  requesterGroups: readonly string[];
  ruleId: string;
  policyVersion: string;
  approvalsRequired: number;
  approverGroups: readonly string[];
  coolingOffSeconds: number;
  lockAtRequest: LockSnapshot;
}

/** Outcomes of an execution as far as the executor knows; UNKNOWN when the PUT may have applied. */
export type ExecutionOutcome = 'SUCCEEDED' | 'FAILED' | 'UNKNOWN';
/** Outcomes a read of the lock can prove. */
export type SettledOutcome = 'SUCCEEDED' | 'FAILED';

export function isEnded(state: LockRequestState): boolean {
  return ENDED_LOCK_REQUEST_STATES.includes(state);
}

/**
 * SHA-256 hex of the canonical JSON of what approvals bind to: project, instance, action, days
 * and the lock as read when the request was made.
 */
export function lockRequestFingerprint(
  subject: Pick<LockRequest, 'projectId' | 'instanceId' | 'action' | 'retentionDays'>,
  lock: LockSnapshot,
): string {
  const json = canonicalize({
    projectId: subject.projectId,
    instanceId: subject.instanceId,
    action: subject.action,
    retentionDays: subject.retentionDays,
    lock: { enabled: lock.enabled, retentionDays: lock.retentionDays, endsAtMs: lock.endsAtMs },
  });
  return createHash('sha256')
    .update(json ?? '')
    .digest('hex');
}

/**
 * A request PENDING_APPROVAL until the approval TTL runs out when it needs approvals, else
 * SCHEDULED straight away after its cooling-off, to be started within the execution window.
 */
export function createLockRequest(
  fields: NewLockRequest,
  now: Date,
  timings: LockRequestTimings,
): LockRequest {
  const at = now.toISOString();
  const base: LockRequest = {
    ...fields,
    requesterGroups: [...fields.requesterGroups],
    approverGroups: [...fields.approverGroups],
    state: 'PENDING_APPROVAL',
    approvals: [],
    fingerprint: lockRequestFingerprint(fields, fields.lockAtRequest),
    notBefore: null,
    expiresAt: plusSeconds(now, timings.approvalTtlSeconds),
    createdAt: at,
    updatedAt: at,
    reason: null,
    executor: null,
    claimUntil: null,
    executionAuditId: null,
    nextReadingAt: null,
    version: 1,
  };
  return fields.approvalsRequired > 0 ? base : { ...base, ...scheduledFrom(base, now, timings) };
}

/**
 * One approval of a distinct approver who is not the requester. The last one needed schedules
 * the request after its cooling-off.
 */
export function approveLockRequest(
  request: LockRequest,
  actor: LockRequestActor,
  comment: string | null,
  now: Date,
  timings: LockRequestTimings,
): LockRequestTransition {
  const refusal = approverRefusal(request, actor, 'approve') ?? awaitingApproval(request, now);
  if (refusal) return refused(refusal);
  const approvals = [...request.approvals, approvalOf(actor, 'approve', comment, now)];
  const approved = approvals.filter((approval) => approval.decision === 'approve').length;
  const next = { ...request, approvals };
  return changed(
    approved >= request.approvalsRequired
      ? { ...next, ...scheduledFrom(next, now, timings) }
      : next,
    now,
  );
}

/**
 * One approver's deny ends the request, while it waits for approvals or in its cooling-off: the
 * cooling-off is there so that someone can still stop it.
 */
export function denyLockRequest(
  request: LockRequest,
  actor: LockRequestActor,
  comment: string,
  now: Date,
): LockRequestTransition {
  const refusal = approverRefusal(request, actor, 'deny') ?? notStarted(request, now);
  if (refusal) return refused(refusal);
  return changed(
    {
      ...request,
      state: 'DENIED',
      approvals: [...request.approvals, approvalOf(actor, 'deny', comment, now)],
      reason: comment,
    },
    now,
  );
}

/** The requester or an approver withdraws the request before it starts. */
export function cancelLockRequest(
  request: LockRequest,
  actor: LockRequestActor,
  comment: string | null,
  now: Date,
): LockRequestTransition {
  if (!isRequester(request, actor) && !isApprover(request, actor)) {
    return refused({
      errorCode: GwCode.NOT_AN_APPROVER,
      message: `only the requester or ${approversText(request)} may cancel this request`,
    });
  }
  const refusal = notStarted(request, now);
  if (refusal) return refused(refusal);
  return changed({ ...request, state: 'CANCELLED', reason: comment }, now);
}

/** A request whose deadline has passed: not approved in time, or not started in its window. */
export function expireLockRequest(request: LockRequest, now: Date): LockRequestTransition {
  if (request.state !== 'PENDING_APPROVAL' && request.state !== 'SCHEDULED') {
    return refused(closedRefusal(request));
  }
  if (now.getTime() < Date.parse(request.expiresAt)) {
    return refused({
      errorCode: GwCode.REQUEST_NOT_DUE,
      message: `lock request ${request.id} expires at ${request.expiresAt}, not before`,
    });
  }
  const reason =
    request.state === 'PENDING_APPROVAL'
      ? `not approved by ${request.expiresAt}`
      : `not started by ${request.expiresAt}`;
  return changed({ ...request, state: 'EXPIRED', reason }, now);
}

/**
 * A replica takes a due SCHEDULED request for execution, holding it until `claimUntil`. The
 * recorder stamps `executionAuditId` with the `execute` row it opened for the claim, so that a
 * crash leaves the request pointing at the row that settles it.
 */
export function claimLockRequest(
  request: LockRequest,
  claim: { executor: string; claimUntil: Date },
  now: Date,
): LockRequestTransition {
  if (request.state !== 'SCHEDULED') return refused(closedRefusal(request));
  const dueMs = Date.parse(request.notBefore ?? request.expiresAt);
  if (now.getTime() < dueMs) {
    return refused({
      errorCode: GwCode.REQUEST_NOT_DUE,
      message: `lock request ${request.id} is not due before ${request.notBefore}`,
    });
  }
  if (now.getTime() >= Date.parse(request.expiresAt)) {
    return refused(expiredRefusal(request));
  }
  return changed(
    {
      ...request,
      state: 'EXECUTING',
      executor: claim.executor,
      claimUntil: claim.claimUntil.toISOString(),
    },
    now,
  );
}

/**
 * Just before the PUT the lock or the decision differs from what was approved: the request
 * ends without execution, with the difference as its reason.
 */
export function voidLockRequest(
  request: LockRequest,
  reason: string,
  now: Date,
): LockRequestTransition {
  if (request.state !== 'SCHEDULED' && request.state !== 'EXECUTING') {
    return refused(closedRefusal(request));
  }
  return changed({ ...request, state: 'VOIDED', reason, executor: null, claimUntil: null }, now);
}

/**
 * The executor could not read the lock or the instance before the PUT: nothing was sent, so the
 * request waits again for the next pass, within its execution window.
 */
export function releaseLockRequest(request: LockRequest, now: Date): LockRequestTransition {
  if (request.state !== 'EXECUTING') return refused(closedRefusal(request));
  return changed({ ...request, state: 'SCHEDULED', executor: null, claimUntil: null }, now);
}

/** The execution's end as its executor saw it; UNKNOWN when the PUT may have reached TaurusDB. */
export function finishLockRequest(
  request: LockRequest,
  outcome: ExecutionOutcome,
  reason: string | null,
  now: Date,
): LockRequestTransition {
  if (request.state !== 'EXECUTING') return refused(closedRefusal(request));
  return changed({ ...request, state: outcome, reason, executor: null, claimUntil: null }, now);
}

/**
 * An UNKNOWN execution whose lock, read again, still proves nothing: the request keeps its
 * state, says what the last reading showed, and is not read again before `nextReadingAt`.
 */
export function noteUnsettledLockRequest(
  request: LockRequest,
  reason: string,
  now: Date,
  nextReadingAt: Date,
): LockRequestTransition {
  return deferLockRequestReading({ ...request, reason }, now, nextReadingAt);
}

/** An UNKNOWN execution whose lock could not be read: it is not read again before `nextReadingAt`. */
export function deferLockRequestReading(
  request: LockRequest,
  now: Date,
  nextReadingAt: Date,
): LockRequestTransition {
  if (request.state !== 'UNKNOWN') return refused(closedRefusal(request));
  return changed({ ...request, nextReadingAt: nextReadingAt.toISOString() }, now);
}

/** A step decided on a reading of `read` that another writer has since moved on. */
export function changedSinceRead(read: LockRequest): LockRequestTransition {
  return refused({
    errorCode: GwCode.REQUEST_CHANGED,
    message: `lock request ${read.id} changed after it was read; the step is decided again on the next reading`,
  });
}

/** Someone who may not read the request learns no more about it than that it is not there. */
export function hiddenLockRequest(id: string): LockRequestTransition {
  return refused({ errorCode: GwCode.NOT_FOUND, message: `lock request ${id} not found` });
}

/** An UNKNOWN execution settled by reading the lock, never by sending the PUT again. */
export function settleLockRequest(
  request: LockRequest,
  outcome: SettledOutcome,
  reason: string | null,
  now: Date,
): LockRequestTransition {
  if (request.state !== 'UNKNOWN') return refused(closedRefusal(request));
  return changed({ ...request, state: outcome, reason, nextReadingAt: null }, now);
}

export function isRequester(request: LockRequest, actor: LockRequestActor): boolean {
  return request.requesterIss === actor.iss && request.requesterSub === actor.sub;
}

/** In one of the request's approver groups; the requester is never counted as an approver. */
export function isApprover(request: LockRequest, actor: LockRequestActor): boolean {
  return (
    !isRequester(request, actor) &&
    request.approverGroups.some((group) => actor.groups.includes(group))
  );
}

type Refusal = Omit<LockRequestRefusal, 'status'>;

function approverRefusal(
  request: LockRequest,
  actor: LockRequestActor,
  verb: 'approve' | 'deny',
): Refusal | undefined {
  if (isRequester(request, actor)) {
    return {
      errorCode: GwCode.SELF_APPROVAL,
      message: `the requester may not ${verb} their own lock request`,
    };
  }
  if (!isApprover(request, actor)) {
    return {
      errorCode: GwCode.NOT_AN_APPROVER,
      message: `only ${approversText(request)} may ${verb} this request`,
    };
  }
  const earlier = request.approvals.find(
    (approval) => approval.approverIss === actor.iss && approval.approverSub === actor.sub,
  );
  if (earlier) {
    return {
      errorCode: GwCode.ALREADY_DECIDED,
      message: `this approver already ${earlier.decision === 'approve' ? 'approved' : 'denied'} at ${earlier.at}; each approver counts once`,
    };
  }
  return undefined;
}

function awaitingApproval(request: LockRequest, now: Date): Refusal | undefined {
  if (request.state !== 'PENDING_APPROVAL') return closedRefusal(request);
  return now.getTime() >= Date.parse(request.expiresAt) ? expiredRefusal(request) : undefined;
}

function notStarted(request: LockRequest, now: Date): Refusal | undefined {
  if (request.state !== 'PENDING_APPROVAL' && request.state !== 'SCHEDULED') {
    return closedRefusal(request);
  }
  return now.getTime() >= Date.parse(request.expiresAt) ? expiredRefusal(request) : undefined;
}

function closedRefusal(request: LockRequest): Refusal {
  return {
    errorCode: GwCode.REQUEST_CLOSED,
    message: `lock request ${request.id} is ${request.state}`,
  };
}

/** Past its deadline a request is closed, even before the background work marks it EXPIRED. */
function expiredRefusal(request: LockRequest): Refusal {
  return {
    errorCode: GwCode.REQUEST_CLOSED,
    message: `lock request ${request.id} expired at ${request.expiresAt}`,
  };
}

function scheduledFrom(
  request: LockRequest,
  now: Date,
  timings: LockRequestTimings,
): Pick<LockRequest, 'state' | 'notBefore' | 'expiresAt'> {
  const notBefore = new Date(now.getTime() + request.coolingOffSeconds * 1000);
  return {
    state: 'SCHEDULED',
    notBefore: notBefore.toISOString(),
    expiresAt: plusSeconds(notBefore, timings.executionWindowSeconds),
  };
}

function approvalOf(
  actor: LockRequestActor,
  decision: Approval['decision'],
  comment: string | null,
  now: Date,
): Approval {
  return {
    approverIss: actor.iss,
    approverSub: actor.sub,
    decision,
    comment,
    at: now.toISOString(),
  };
}

function approversText(request: LockRequest): string {
  return request.approverGroups.length > 0
    ? `a member of ${request.approverGroups.join(', ')}`
    : 'an approver (this request has no approver group)';
}

function changed(next: LockRequest, now: Date): LockRequestTransition {
  return {
    ok: true,
    request: { ...next, version: next.version + 1, updatedAt: now.toISOString() },
  };
}

function refused(refusal: Refusal): LockRequestTransition {
  return { ok: false, refusal: { ...refusal, status: REFUSAL_STATUS[refusal.errorCode] } };
}

function plusSeconds(from: Date, seconds: number): string {
  return new Date(from.getTime() + seconds * 1000).toISOString();
}
