import type { Approval, LockRequest, LockRequestState } from '../domain/lock-request.js';
import type { VaultLockAction } from '../domain/actions.js';
import type { LockRequestListing, LockRequestQuery } from './lock-request-store.js';

/**
 * What the SQLite and the PostgreSQL lock request stores share: the columns, the mapping of a
 * request onto them, and the SQL of the listings. Each store only says how its database writes a
 * parameter, a list of groups and the approvals (`LockRequestDialect`).
 */

/** A request as its columns hold it, before the database's own encoding of lists and booleans. */
export interface LockRequestRow {
  id: string;
  state: LockRequestState;
  project_id: string;
  instance_id: string;
  action: VaultLockAction;
  retention_days: number;
  requester_iss: string;
  requester_sub: string;
  requester_groups: string[];
  rule_id: string;
  policy_version: string;
  approvals_required: number;
  approver_groups: string[];
  cooling_off_seconds: number;
  approvals: Approval[];
  lock_enabled: boolean;
  lock_retention_days: number | null;
  lock_ends_at_ms: number | null;
  fingerprint: string;
  not_before: string | null;
  expires_at: string;
  created_at: string;
  updated_at: string;
  reason: string | null;
  executor: string | null;
  claim_until: string | null;
  execution_audit_id: string | null;
  next_reading_at: string | null;
  version: number;
}

export type LockRequestColumn = keyof LockRequestRow;

export const LOCK_REQUEST_COLUMNS: readonly LockRequestColumn[] = [
  'id',
  'state',
  'project_id',
  'instance_id',
  'action',
  'retention_days',
  'requester_iss',
  'requester_sub',
  'requester_groups',
  'rule_id',
  'policy_version',
  'approvals_required',
  'approver_groups',
  'cooling_off_seconds',
  'approvals',
  'lock_enabled',
  'lock_retention_days',
  'lock_ends_at_ms',
  'fingerprint',
  'not_before',
  'expires_at',
  'created_at',
  'updated_at',
  'reason',
  'executor',
  'claim_until',
  'execution_audit_id',
  'next_reading_at',
  'version',
];

/**
 * Times are kept as the gateway clock's ISO strings (`Date.prototype.toISOString`), exactly as
 * given. In this one shape text order is time order, which is what lets both databases compare
 * deadlines as text; the tables' CHECKs refuse any other shape.
 */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function toRow(request: LockRequest): LockRequestRow {
  return {
    id: request.id,
    state: request.state,
    project_id: request.projectId,
    instance_id: request.instanceId,
    action: request.action,
    retention_days: request.retentionDays,
    requester_iss: request.requesterIss,
    requester_sub: request.requesterSub,
    requester_groups: request.requesterGroups,
    rule_id: request.ruleId,
    policy_version: request.policyVersion,
    approvals_required: request.approvalsRequired,
    approver_groups: request.approverGroups,
    cooling_off_seconds: request.coolingOffSeconds,
    approvals: request.approvals,
    lock_enabled: request.lockAtRequest.enabled,
    lock_retention_days: request.lockAtRequest.retentionDays,
    lock_ends_at_ms: request.lockAtRequest.endsAtMs,
    fingerprint: request.fingerprint,
    not_before: request.notBefore,
    expires_at: request.expiresAt,
    created_at: request.createdAt,
    updated_at: request.updatedAt,
    reason: request.reason,
    executor: request.executor,
    claim_until: request.claimUntil,
    execution_audit_id: request.executionAuditId,
    next_reading_at: request.nextReadingAt,
    version: request.version,
  };
}

export function fromRow(row: LockRequestRow): LockRequest {
  return {
    id: row.id,
    state: row.state,
    projectId: row.project_id,
    instanceId: row.instance_id,
    action: row.action,
    retentionDays: row.retention_days,
    requesterIss: row.requester_iss,
    requesterSub: row.requester_sub,
    requesterGroups: row.requester_groups,
    ruleId: row.rule_id,
    policyVersion: row.policy_version,
    approvalsRequired: row.approvals_required,
    approverGroups: row.approver_groups,
    coolingOffSeconds: row.cooling_off_seconds,
    approvals: row.approvals,
    lockAtRequest: {
      enabled: row.lock_enabled,
      retentionDays: row.lock_retention_days,
      endsAtMs: row.lock_ends_at_ms,
    },
    fingerprint: row.fingerprint,
    notBefore: row.not_before,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    reason: row.reason,
    executor: row.executor,
    claimUntil: row.claim_until,
    executionAuditId: row.execution_audit_id,
    nextReadingAt: row.next_reading_at,
    version: row.version,
  };
}

/** How one database writes what the shared SQL needs. */
export interface LockRequestDialect {
  /** The placeholder of the `position`th parameter (from 1). */
  placeholder(position: number): string;
  /** The column's value as this database takes it as a parameter. */
  encode(row: LockRequestRow, column: LockRequestColumn): unknown;
  /** A condition: `approver_groups` shares a group with the parameter `groups` (a string[]). */
  groupsOverlap(param: (value: unknown) => string, groups: readonly string[]): string;
  /** A condition: no approval (or denial) in `approvals` is this principal's. */
  notDecidedBy(param: (value: unknown) => string, iss: string, sub: string): string;
}

/** A statement and its parameters, in the order of their placeholders. */
export interface Statement {
  sql: string;
  values: unknown[];
}

class Parameters {
  readonly values: unknown[] = [];

  constructor(private readonly dialect: LockRequestDialect) {}

  /** Adds a parameter; returns its placeholder. */
  readonly add = (value: unknown): string => {
    this.values.push(value);
    return this.dialect.placeholder(this.values.length);
  };
}

const SELECT = `SELECT ${LOCK_REQUEST_COLUMNS.join(', ')} FROM lock_requests`;

export function insertStatement(dialect: LockRequestDialect, request: LockRequest): Statement {
  const params = new Parameters(dialect);
  const row = toRow(request);
  const placeholders = LOCK_REQUEST_COLUMNS.map((c) => params.add(dialect.encode(row, c)));
  return {
    sql: `INSERT INTO lock_requests (${LOCK_REQUEST_COLUMNS.join(', ')}) VALUES (${placeholders.join(', ')})`,
    values: params.values,
  };
}

export function getStatement(dialect: LockRequestDialect, id: string): Statement {
  const params = new Parameters(dialect);
  return { sql: `${SELECT} WHERE id = ${params.add(id)}`, values: params.values };
}

/** The compare-and-set: a row changes only while it still has `expectedVersion`. */
export function updateStatement(
  dialect: LockRequestDialect,
  next: LockRequest,
  expectedVersion: number,
): Statement {
  if (next.version !== expectedVersion + 1) {
    throw new Error(
      `lock request ${next.id}: version ${next.version} does not follow ${expectedVersion}`,
    );
  }
  const params = new Parameters(dialect);
  const row = toRow(next);
  const assignments = LOCK_REQUEST_COLUMNS.filter((c) => c !== 'id').map(
    (c) => `${c} = ${params.add(dialect.encode(row, c))}`,
  );
  return {
    sql: `UPDATE lock_requests SET ${assignments.join(', ')}
      WHERE id = ${params.add(next.id)} AND version = ${params.add(expectedVersion)}`,
    values: params.values,
  };
}

/** One more row than `limit` is read: whether it exists is `more`. */
export function listStatement(
  dialect: LockRequestDialect,
  query: LockRequestQuery,
  limit: number,
): Statement {
  const params = new Parameters(dialect);
  const p = params.add;
  const conditions: string[] = [];
  if (query.state !== undefined) conditions.push(`state = ${p(query.state)}`);
  if (query.projectId !== undefined) conditions.push(`project_id = ${p(query.projectId)}`);
  if (query.instanceId !== undefined) conditions.push(`instance_id = ${p(query.instanceId)}`);
  if (query.requester !== undefined) {
    conditions.push(
      `requester_iss = ${p(query.requester.iss)}`,
      `requester_sub = ${p(query.requester.sub)}`,
    );
  }
  const approver = query.awaitingApprovalBy;
  if (approver !== undefined) {
    conditions.push(
      `state = 'PENDING_APPROVAL'`,
      dialect.groupsOverlap(p, approver.groups),
      `NOT (requester_iss = ${p(approver.iss)} AND requester_sub = ${p(approver.sub)})`,
      dialect.notDecidedBy(p, approver.iss, approver.sub),
    );
  }
  if (query.beforeId !== undefined) conditions.push(`id < ${p(query.beforeId)}`);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  return {
    sql: `${SELECT} ${where} ORDER BY id DESC LIMIT ${p(limit + 1)}`,
    values: params.values,
  };
}

export function listing(rows: LockRequest[], limit: number): LockRequestListing {
  return { requests: rows.slice(0, limit), more: rows.length > limit };
}

/**
 * The port's `listActionable`: one branch per state, each answered by its (state, deadline)
 * index. MATERIALIZED keeps the branches apart: folded into the outer ORDER BY id, SQLite walks
 * the whole table in id order instead. Ended states are never named, so they never come back.
 */
export function actionableStatement(
  dialect: LockRequestDialect,
  now: string,
  limit: number,
  uncertainBefore: string,
): Statement {
  for (const time of [now, uncertainBefore]) {
    if (!ISO_TIME.test(time)) throw new Error(`times must be ISO times such as toISOString gives`);
  }
  const params = new Parameters(dialect);
  const p = params.add;
  return {
    sql: `WITH actionable AS MATERIALIZED (
        ${SELECT} WHERE state = 'PENDING_APPROVAL' AND expires_at < ${p(now)}
        UNION ALL ${SELECT} WHERE state = 'SCHEDULED' AND not_before <= ${p(now)}
        UNION ALL ${SELECT} WHERE state = 'EXECUTING' AND claim_until < ${p(now)}
        UNION ALL ${SELECT} WHERE state = 'UNKNOWN' AND updated_at <= ${p(uncertainBefore)}
          AND (next_reading_at IS NULL OR next_reading_at <= ${p(now)})
      )
      SELECT ${LOCK_REQUEST_COLUMNS.join(', ')} FROM actionable
      ORDER BY CASE WHEN state = 'UNKNOWN' THEN 1 ELSE 0 END, updated_at, id
      LIMIT ${p(limit)}`,
    values: params.values,
  };
}

/**
 * Takes or renews a lease: the row is written only when the lease is free, ran out, or is the
 * holder's already, and then it comes back (RETURNING), in SQLite and PostgreSQL alike.
 */
export function claimLeaseStatement(
  dialect: LockRequestDialect,
  lease: { name: string; holder: string; now: string; until: string },
): Statement {
  const params = new Parameters(dialect);
  const [name, holder, until, now] = [lease.name, lease.holder, lease.until, lease.now].map((v) =>
    params.add(v),
  );
  return {
    sql: `INSERT INTO background_leases (name, holder, until) VALUES (${name}, ${holder}, ${until})
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
      WHERE background_leases.until <= ${now} OR background_leases.holder = excluded.holder
      RETURNING holder`,
    values: params.values,
  };
}
