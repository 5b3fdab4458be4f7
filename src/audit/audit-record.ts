import type { Channel } from '../common/call-context.js';
import { ACTIONS } from '../domain/actions.js';

/**
 * What a row records: a call on a lock (`enable`, `extend`, `show`); a lock request's
 * transitions (DESIGN §6); or `settle`, a row that settles an earlier `unknown` row once
 * reading the lock has shown the outcome.
 */
export const AUDIT_ACTIONS = [
  ...ACTIONS,
  'request',
  'approve',
  'deny',
  'cancel',
  'expire',
  'void',
  'execute',
  'settle',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The channel of a call, or `scheduler` for rows written by background work. */
export type AuditChannel = Channel | 'scheduler';
export const AUDIT_CHANNELS = [
  'graphql',
  'rest',
  'scheduler',
] as const satisfies readonly AuditChannel[];

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
  /**
   * Made by the gateway, new for every HTTP request, whatever the caller sends. Not unique per
   * row: one GraphQL request may hold several audited calls (aliases), each a row of its own.
   */
  requestId: string;
  /** The caller's own X-Request-Id, when it sent a sane one. */
  correlationId: string | null;
  channel: AuditChannel;
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
  /** The lock request this row is a transition of; absent (null) for a call on its own. */
  lockRequestId?: string | null;
  /** On a `settle` row: the id of the `unknown` row it settles. */
  settlesAuditId?: string | null;
  /** The OpenTelemetry trace of the call that wrote the row; null untraced (tracing off). */
  traceId?: string | null;
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
export interface AuditEvent extends Required<AuditAttempt> {
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
  lockRequestId?: string;
  /** The rows that settle this one (a `settle` row names the `unknown` row it settles). */
  settlesAuditId?: string;
  since?: Date;
  until?: Date;
}

export interface AuditPage {
  events: AuditEvent[];
  nextCursor: string | null;
}

/**
 * How a field is stored, in every store: `text`, `integer` and `boolean` as the SQL types of
 * those names (a store without booleans keeps 0/1), `json` as the JSON text of the value.
 */
export type AuditColumnType = 'text' | 'integer' | 'boolean' | 'json';

export interface AuditColumn {
  /** The column's name in every store, and the field's name in REST answers. */
  readonly name: string;
  readonly type: AuditColumnType;
  /** NOT NULL when false. */
  readonly nullable: boolean;
  /** The only values the column accepts (a CHECK constraint). */
  readonly oneOf?: readonly string[];
  /** Written when an open attempt is sealed; every other column is written once, with the attempt. */
  readonly setBySeal: boolean;
  /** Part of the canonical JSON that the row's hash covers. */
  readonly hashed: boolean;
  /**
   * Added after trails were already written: hashed only when it holds a value, so a row written
   * before it existed (hashed without it) still verifies, and setting or clearing it later breaks
   * the hash like any other change.
   */
  readonly hashedOnlyWhenSet?: boolean;
}

const attempt = (
  name: string,
  type: AuditColumnType,
  nullable = false,
  oneOf?: readonly string[],
): AuditColumn => ({ name, type, nullable, oneOf, setBySeal: false, hashed: true });

const sealing = (name: string, type: AuditColumnType, oneOf?: readonly string[]): AuditColumn => ({
  name,
  type,
  nullable: true,
  oneOf,
  setBySeal: true,
  hashed: name !== 'hash',
});

/**
 * The audit row, defined once: every store derives its statements and its row mapping from this
 * table, and the chain hashes the columns marked `hashed`. Complete by type, so a field added to
 * AuditEvent cannot be left out of the stores or of the hashed canonical form. A new column, or a
 * change to the values one accepts, is one line here plus a PostgreSQL migration; SQLite files
 * are rebuilt to match at start. A column added to written trails is nullable and
 * `hashedOnlyWhenSet`.
 */
export const AUDIT_COLUMN_TABLE: { readonly [K in keyof AuditEvent]-?: AuditColumn } = {
  id: attempt('id', 'text'),
  seq: sealing('seq', 'integer'),
  startedAt: attempt('started_at', 'text'),
  completedAt: sealing('completed_at', 'text'),
  requestId: attempt('request_id', 'text'),
  correlationId: { ...attempt('correlation_id', 'text', true), hashedOnlyWhenSet: true },
  channel: attempt('channel', 'text', false, AUDIT_CHANNELS),
  principalIss: attempt('principal_iss', 'text'),
  principalSub: attempt('principal_sub', 'text'),
  callerAddress: attempt('caller_address', 'text'),
  projectId: attempt('project_id', 'text'),
  instanceId: attempt('instance_id', 'text'),
  action: attempt('action', 'text', false, AUDIT_ACTIONS),
  retentionDays: attempt('retention_days', 'integer', true),
  dryRun: attempt('dry_run', 'boolean'),
  decisionAllowed: attempt('decision_allowed', 'boolean'),
  decisionRule: attempt('decision_rule', 'text', true),
  decisionReasons: attempt('decision_reasons', 'json'),
  policyVersion: attempt('policy_version', 'text'),
  lockRequestId: { ...attempt('lock_request_id', 'text', true), hashedOnlyWhenSet: true },
  settlesAuditId: { ...attempt('settles_audit_id', 'text', true), hashedOnlyWhenSet: true },
  traceId: { ...attempt('trace_id', 'text', true), hashedOnlyWhenSet: true },
  outcome: sealing('outcome', 'text', AUDIT_OUTCOMES),
  upstreamStatus: sealing('upstream_status', 'integer'),
  errorCode: sealing('error_code', 'text'),
  durationMs: sealing('duration_ms', 'integer'),
  prevHash: sealing('prev_hash', 'text'),
  hash: sealing('hash', 'text'),
};

/** The stored column name of every field. */
export const AUDIT_COLUMNS = Object.fromEntries(
  Object.entries(AUDIT_COLUMN_TABLE).map(([field, column]) => [field, column.name]),
) as { readonly [K in keyof AuditEvent]-?: string };

export const AUDIT_LIST_MAX_LIMIT = 500;
export const AUDIT_LIST_DEFAULT_LIMIT = 50;
