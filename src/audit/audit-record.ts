import type { Channel } from '../common/call-context.js';

export type AuditAction = 'enable' | 'extend' | 'show';

export type AuditOutcome = 'succeeded' | 'denied' | 'rejected' | 'failed' | 'unknown';

export const AUDIT_OUTCOMES: readonly AuditOutcome[] = [
  'succeeded',
  'denied',
  'rejected',
  'failed',
  'unknown',
];

/**
 * The error code of an attempt that was still open when the gateway stopped: nobody knows
 * whether TaurusDB received the call, so the outcome is `unknown` and this code says why.
 */
export const CRASHED_ERROR_CODE = 'GW.CRASHED';

/** Everything known before the upstream call. No token, secret or JWT belongs here, ever. */
export interface AuditAttempt {
  /** Made by the gateway, unique per request (and per row). */
  requestId: string;
  /** The caller's own X-Request-Id, when it sent a sane one. */
  correlationId: string | null;
  channel: Channel;
  principalIss: string;
  principalSub: string;
  callerAddress: string;
  projectId: string;
  instanceId: string;
  action: AuditAction;
  retentionDays: number | null;
  dryRun: boolean;
  decisionAllowed: boolean;
  decisionRule: string | null;
  decisionReasons: readonly string[];
  policyVersion: string;
}

export interface AuditCompletion {
  outcome: AuditOutcome;
  upstreamStatus?: number;
  errorCode?: string;
  /** Stored in whole milliseconds. */
  durationMs: number;
}

/**
 * One row of the trail. `seq`, `prevHash`, `hash`, `completedAt` and `outcome` are null while
 * the attempt is open (its upstream call has not come back yet).
 */
export interface AuditEvent extends AuditAttempt {
  id: string;
  seq: number | null;
  startedAt: string;
  completedAt: string | null;
  outcome: AuditOutcome | null;
  upstreamStatus: number | null;
  errorCode: string | null;
  durationMs: number | null;
  prevHash: string | null;
  hash: string | null;
}

/** Since is inclusive, until exclusive; both compare with the attempt's start time. */
export interface AuditFilter {
  projectId?: string;
  instanceId?: string;
  outcome?: AuditOutcome;
  since?: Date;
  until?: Date;
}

export interface AuditPage {
  events: AuditEvent[];
  nextCursor: string | null;
}

/**
 * The stored column of every field. The map is complete by type, so a field added to
 * AuditEvent cannot be left out of the stores or of the hashed canonical form.
 */
export const AUDIT_COLUMNS: { readonly [K in keyof AuditEvent]-?: string } = {
  id: 'id',
  seq: 'seq',
  startedAt: 'started_at',
  completedAt: 'completed_at',
  requestId: 'request_id',
  correlationId: 'correlation_id',
  channel: 'channel',
  principalIss: 'principal_iss',
  principalSub: 'principal_sub',
  callerAddress: 'caller_address',
  projectId: 'project_id',
  instanceId: 'instance_id',
  action: 'action',
  retentionDays: 'retention_days',
  dryRun: 'dry_run',
  decisionAllowed: 'decision_allowed',
  decisionRule: 'decision_rule',
  decisionReasons: 'decision_reasons',
  policyVersion: 'policy_version',
  outcome: 'outcome',
  upstreamStatus: 'upstream_status',
  errorCode: 'error_code',
  durationMs: 'duration_ms',
  prevHash: 'prev_hash',
  hash: 'hash',
};

/**
 * Columns added after trails were already written. Each is hashed only when it holds a value, so
 * a row written before it existed (hashed without it) still verifies, and setting or clearing it
 * later breaks the hash like any other change.
 */
export const LATER_COLUMNS: ReadonlySet<string> = new Set([AUDIT_COLUMNS.correlationId]);

export const AUDIT_LIST_MAX_LIMIT = 500;
export const AUDIT_LIST_DEFAULT_LIMIT = 50;
