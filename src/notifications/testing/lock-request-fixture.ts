import type { LockRequest } from '../../domain/lock-request.js';

/** A lock request waiting for two approvals, one given; `overrides` change any field. */
export function aLockRequest(overrides: Partial<LockRequest> = {}): LockRequest {
  return {
    id: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    state: 'PENDING_APPROVAL',
    projectId: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
    instanceId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90in07',
    action: 'enable',
    retentionDays: 30,
    requesterIss: 'https://sso.example.com',
    requesterSub: 'alice',
    ruleId: 'prod-enable',
    policyVersion: 'sha256:abc',
    approvalsRequired: 2,
    approverGroups: ['dba-leads'],
    coolingOffSeconds: 259200,
    approvals: [
      {
        approverIss: 'https://sso.example.com',
        approverSub: 'bob',
        decision: 'approve',
        comment: 'checked the ticket',
        at: '2026-11-30T10:05:00.000Z',
      },
    ],
    lockAtRequest: { enabled: false, retentionDays: null, endsAtMs: null },
    fingerprint: 'f'.repeat(64),
    notBefore: null,
    expiresAt: '2026-12-01T10:00:00.000Z',
    createdAt: '2026-11-30T10:00:00.000Z',
    updatedAt: '2026-11-30T10:05:00.000Z',
    reason: null,
    executor: null,
    claimUntil: null,
    executionAuditId: null,
    version: 2,
    ...overrides,
  };
}
