import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { LockRequest } from '../../domain/lock-request.js';
import { INSTANCES, PROJECTS } from '../../simulator/fixtures.js';

/** Test support for the lock request specs. */

/** The clock of the fixtures: every time is an offset from this one. */
export const FIXTURE_NOW = '2026-11-30T02:00:00.000Z';

/** FIXTURE_NOW moved by `seconds`, as the gateway clock writes times. */
export function secondsFromNow(seconds: number): string {
  return new Date(Date.parse(FIXTURE_NOW) + seconds * 1_000).toISOString();
}

/** A request just made and waiting for two approvals, with a fresh (newest) UUIDv7 id. */
export function aLockRequest(overrides: Partial<LockRequest> = {}): LockRequest {
  const id = overrides.id ?? uuidv7();
  return {
    id,
    state: 'PENDING_APPROVAL',
    projectId: PROJECTS.cnNorth4.id,
    instanceId: INSTANCES.financeProd.id,
    action: 'enable',
    retentionDays: 30,
    requesterIss: 'https://idp.example.test',
    requesterSub: 'alice',
    requesterGroups: ['finance-dba'],
    ruleId: 'finance-prod',
    policyVersion: 'sha256:policy',
    approvalsRequired: 2,
    approverGroups: ['dba-leads'],
    coolingOffSeconds: 259_200,
    approvals: [],
    lockAtRequest: { enabled: false, retentionDays: null, endsAtMs: null },
    fingerprint: createHash('sha256').update(id).digest('hex'),
    notBefore: null,
    expiresAt: secondsFromNow(86_400),
    createdAt: FIXTURE_NOW,
    updatedAt: FIXTURE_NOW,
    reason: null,
    executor: null,
    claimUntil: null,
    executionAuditId: null,
    nextReadingAt: null,
    version: 1,
    ...overrides,
  };
}
