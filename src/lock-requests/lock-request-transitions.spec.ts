import fc from 'fast-check';
import type { LockRequest } from '../domain/lock-request.js';
import {
  approveLockRequest,
  cancelLockRequest,
  claimLockRequest,
  createLockRequest,
  denyLockRequest,
  expireLockRequest,
  finishLockRequest,
  releaseLockRequest,
  isEnded,
  lockRequestFingerprint,
  settleLockRequest,
  voidLockRequest,
  type LockRequestActor,
  type LockRequestTransition,
  type NewLockRequest,
} from './lock-request-transitions.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const TIMINGS = { approvalTtlSeconds: 86_400, executionWindowSeconds: 3_600 };

const requester: LockRequestActor = { iss: 'https://idp', sub: 'alice', groups: ['dba', 'leads'] };
const lead1: LockRequestActor = { iss: 'https://idp', sub: 'bob', groups: ['leads'] };
const lead2: LockRequestActor = { iss: 'https://idp', sub: 'carol', groups: ['dba', 'leads'] };
const stranger: LockRequestActor = { iss: 'https://idp', sub: 'dave', groups: ['dba'] };
/** Same subject, another issuer: a different person. */
const otherIssuerBob: LockRequestActor = { iss: 'https://other', sub: 'bob', groups: ['leads'] };

function fields(overrides: Partial<NewLockRequest> = {}): NewLockRequest {
  return {
    id: '0190a000-0000-7000-8000-000000000001',
    projectId: 'a'.repeat(32),
    instanceId: `${'b'.repeat(32)}in07`,
    action: 'enable',
    retentionDays: 30,
    requesterIss: requester.iss,
    requesterSub: requester.sub,
    requesterGroups: [...requester.groups],
    ruleId: 'finance-prod',
    policyVersion: 'v1',
    approvalsRequired: 2,
    approverGroups: ['leads'],
    coolingOffSeconds: 600,
    lockAtRequest: { enabled: false, retentionDays: null, endsAtMs: null },
    ...overrides,
  };
}

function accepted(transition: LockRequestTransition): LockRequest {
  if (!transition.ok) throw new Error(`refused: ${transition.refusal.message}`);
  return transition.request;
}

function refusal(transition: LockRequestTransition) {
  if (transition.ok) throw new Error(`accepted as ${transition.request.state}`);
  return transition.refusal;
}

const pending = () => createLockRequest(fields(), T0, TIMINGS);
const scheduled = () =>
  accepted(
    approveLockRequest(
      accepted(approveLockRequest(pending(), lead1, null, at(10), TIMINGS)),
      lead2,
      'ok',
      at(20),
      TIMINGS,
    ),
  );
const executing = () =>
  accepted(claimLockRequest(scheduled(), { executor: 'replica-1', claimUntil: at(700) }, at(620)));

describe('createLockRequest', () => {
  it('waits for approvals until the approval TTL runs out', () => {
    const request = pending();
    expect(request).toMatchObject({
      state: 'PENDING_APPROVAL',
      version: 1,
      approvals: [],
      notBefore: null,
      expiresAt: at(86_400).toISOString(),
      createdAt: T0.toISOString(),
      updatedAt: T0.toISOString(),
      executor: null,
      claimUntil: null,
      executionAuditId: null,
      reason: null,
    });
    expect(request.fingerprint).toBe(lockRequestFingerprint(request, request.lockAtRequest));
  });

  it('is scheduled after its cooling-off when no approval is needed', () => {
    const request = createLockRequest(fields({ approvalsRequired: 0 }), T0, TIMINGS);
    expect(request).toMatchObject({
      state: 'SCHEDULED',
      version: 1,
      notBefore: at(600).toISOString(),
      expiresAt: at(600 + 3_600).toISOString(),
    });
  });

  it('keeps its own copy of the approver groups', () => {
    const groups = ['leads'];
    const request = createLockRequest(fields({ approverGroups: groups }), T0, TIMINGS);
    groups.push('dba');
    expect(request.approverGroups).toEqual(['leads']);
  });
});

describe('lockRequestFingerprint', () => {
  const base = pending();
  const lock = base.lockAtRequest;

  it('is the SHA-256 hex of the canonical subject, whatever the key order', () => {
    expect(lockRequestFingerprint(base, lock)).toMatch(/^[0-9a-f]{64}$/);
    expect(
      lockRequestFingerprint(base, { endsAtMs: null, retentionDays: null, enabled: false }),
    ).toBe(lockRequestFingerprint(base, lock));
  });

  it.each([
    ['project', { projectId: 'c'.repeat(32) }],
    ['instance', { instanceId: `${'d'.repeat(32)}in07` }],
    ['action', { action: 'extend' as const }],
    ['days', { retentionDays: 31 }],
  ])('changes with the %s', (_name, change) => {
    expect(lockRequestFingerprint({ ...base, ...change }, lock)).not.toBe(
      lockRequestFingerprint(base, lock),
    );
  });

  it('changes with the lock state', () => {
    expect(
      lockRequestFingerprint(base, { enabled: true, retentionDays: 30, endsAtMs: 1 }),
    ).not.toBe(lockRequestFingerprint(base, lock));
    expect(
      lockRequestFingerprint(base, { enabled: true, retentionDays: 30, endsAtMs: 2 }),
    ).not.toBe(lockRequestFingerprint(base, { enabled: true, retentionDays: 30, endsAtMs: 1 }));
  });
});

describe('approveLockRequest', () => {
  it('counts one approval and keeps waiting for the next', () => {
    const next = accepted(approveLockRequest(pending(), lead1, 'fine', at(10), TIMINGS));
    expect(next).toMatchObject({
      state: 'PENDING_APPROVAL',
      version: 2,
      updatedAt: at(10).toISOString(),
      expiresAt: at(86_400).toISOString(),
      notBefore: null,
      approvals: [
        {
          approverIss: lead1.iss,
          approverSub: 'bob',
          decision: 'approve',
          comment: 'fine',
          at: at(10).toISOString(),
        },
      ],
    });
  });

  it('schedules the request after its cooling-off with the last approval needed', () => {
    expect(scheduled()).toMatchObject({
      state: 'SCHEDULED',
      version: 3,
      notBefore: at(20 + 600).toISOString(),
      expiresAt: at(20 + 600 + 3_600).toISOString(),
    });
    expect(scheduled().approvals.map((a) => a.approverSub)).toEqual(['bob', 'carol']);
  });

  it('counts the same subject of another issuer as another person', () => {
    const once = accepted(approveLockRequest(pending(), lead1, null, at(10), TIMINGS));
    expect(accepted(approveLockRequest(once, otherIssuerBob, null, at(11), TIMINGS)).state).toBe(
      'SCHEDULED',
    );
  });

  it('refuses the requester, even when in an approver group', () => {
    expect(refusal(approveLockRequest(pending(), requester, null, at(10), TIMINGS))).toEqual({
      errorCode: 'GW.SELF_APPROVAL',
      status: 403,
      message: 'the requester may not approve their own lock request',
    });
  });

  it('refuses a caller in none of the approver groups', () => {
    expect(refusal(approveLockRequest(pending(), stranger, null, at(10), TIMINGS))).toEqual({
      errorCode: 'GW.NOT_AN_APPROVER',
      status: 403,
      message: 'only a member of leads may approve this request',
    });
  });

  it('refuses a second approval by the same approver', () => {
    const once = accepted(approveLockRequest(pending(), lead1, null, at(10), TIMINGS));
    expect(refusal(approveLockRequest(once, lead1, null, at(11), TIMINGS))).toEqual({
      errorCode: 'GW.ALREADY_DECIDED',
      status: 409,
      message: `this approver already approved at ${at(10).toISOString()}; each approver counts once`,
    });
  });

  it('refuses once the approval TTL has run out, before anything marks it EXPIRED', () => {
    expect(refusal(approveLockRequest(pending(), lead1, null, at(86_400), TIMINGS))).toMatchObject({
      errorCode: 'GW.REQUEST_CLOSED',
      status: 409,
      message: expect.stringContaining('expired'),
    });
    expect(accepted(approveLockRequest(pending(), lead1, null, at(86_399), TIMINGS)).version).toBe(
      2,
    );
  });

  it('refuses a request no longer awaiting approval', () => {
    const lead3 = { iss: 'https://idp', sub: 'erin', groups: ['leads'] };
    for (const request of [scheduled(), executing()]) {
      expect(refusal(approveLockRequest(request, lead3, null, at(621), TIMINGS))).toMatchObject({
        errorCode: 'GW.REQUEST_CLOSED',
        status: 409,
        message: `lock request ${request.id} is ${request.state}`,
      });
    }
  });
});

describe('denyLockRequest', () => {
  it('ends the request with one deny, keeping the comment as the reason', () => {
    const next = accepted(denyLockRequest(pending(), lead1, 'wrong instance', at(10)));
    expect(next).toMatchObject({
      state: 'DENIED',
      version: 2,
      reason: 'wrong instance',
      approvals: [{ approverSub: 'bob', decision: 'deny', comment: 'wrong instance' }],
    });
  });

  it('stops a request in its cooling-off', () => {
    const lead3 = { iss: 'https://idp', sub: 'erin', groups: ['leads'] };
    expect(accepted(denyLockRequest(scheduled(), lead3, 'too long', at(30))).state).toBe('DENIED');
  });

  it('refuses the requester, a stranger, a second word and an executing request', () => {
    expect(refusal(denyLockRequest(pending(), requester, 'x', at(10))).errorCode).toBe(
      'GW.SELF_APPROVAL',
    );
    expect(refusal(denyLockRequest(pending(), stranger, 'x', at(10))).errorCode).toBe(
      'GW.NOT_AN_APPROVER',
    );
    const once = accepted(approveLockRequest(pending(), lead1, null, at(10), TIMINGS));
    expect(refusal(denyLockRequest(once, lead1, 'changed my mind', at(11))).errorCode).toBe(
      'GW.ALREADY_DECIDED',
    );
    const lead3 = { iss: 'https://idp', sub: 'erin', groups: ['leads'] };
    expect(refusal(denyLockRequest(executing(), lead3, 'x', at(630))).errorCode).toBe(
      'GW.REQUEST_CLOSED',
    );
  });
});

describe('cancelLockRequest', () => {
  it('lets the requester or an approver cancel before execution', () => {
    expect(accepted(cancelLockRequest(pending(), requester, null, at(10)))).toMatchObject({
      state: 'CANCELLED',
      reason: null,
      version: 2,
    });
    expect(accepted(cancelLockRequest(scheduled(), lead1, 'not now', at(30)))).toMatchObject({
      state: 'CANCELLED',
      reason: 'not now',
    });
  });

  it('refuses a stranger', () => {
    expect(refusal(cancelLockRequest(pending(), stranger, null, at(10)))).toEqual({
      errorCode: 'GW.NOT_AN_APPROVER',
      status: 403,
      message: 'only the requester or a member of leads may cancel this request',
    });
  });

  it('says so when a request has no approver group', () => {
    const request = createLockRequest(
      fields({ approvalsRequired: 0, approverGroups: [] }),
      T0,
      TIMINGS,
    );
    expect(refusal(cancelLockRequest(request, stranger, null, at(10))).message).toBe(
      'only the requester or an approver (this request has no approver group) may cancel this request',
    );
  });

  it('refuses once executing, ended, or past its deadline', () => {
    expect(refusal(cancelLockRequest(executing(), requester, null, at(630))).errorCode).toBe(
      'GW.REQUEST_CLOSED',
    );
    const denied = accepted(denyLockRequest(pending(), lead1, 'no', at(10)));
    expect(refusal(cancelLockRequest(denied, requester, null, at(11))).errorCode).toBe(
      'GW.REQUEST_CLOSED',
    );
    expect(refusal(cancelLockRequest(scheduled(), requester, null, at(620 + 3_600))).message).toBe(
      `lock request ${scheduled().id} expired at ${at(620 + 3_600).toISOString()}`,
    );
  });
});

describe('expireLockRequest', () => {
  it('expires a request not approved in time', () => {
    expect(accepted(expireLockRequest(pending(), at(86_400)))).toMatchObject({
      state: 'EXPIRED',
      reason: `not approved by ${at(86_400).toISOString()}`,
    });
  });

  it('expires a scheduled request not started within its window', () => {
    expect(accepted(expireLockRequest(scheduled(), at(620 + 3_600)))).toMatchObject({
      state: 'EXPIRED',
      reason: `not started by ${at(620 + 3_600).toISOString()}`,
    });
  });

  it('refuses before the deadline and in any other state', () => {
    expect(refusal(expireLockRequest(pending(), at(86_399)))).toMatchObject({
      errorCode: 'GW.REQUEST_NOT_DUE',
      status: 409,
    });
    expect(refusal(expireLockRequest(executing(), at(999_999))).errorCode).toBe(
      'GW.REQUEST_CLOSED',
    );
  });
});

describe('claimLockRequest', () => {
  const claim = { executor: 'replica-1', claimUntil: at(700) };

  it('takes a due scheduled request for execution', () => {
    expect(executing()).toMatchObject({
      state: 'EXECUTING',
      executor: 'replica-1',
      claimUntil: at(700).toISOString(),
      version: 4,
    });
  });

  it('refuses before notBefore, at its deadline, and outside SCHEDULED', () => {
    expect(refusal(claimLockRequest(scheduled(), claim, at(619))).errorCode).toBe(
      'GW.REQUEST_NOT_DUE',
    );
    expect(refusal(claimLockRequest(scheduled(), claim, at(620 + 3_600))).errorCode).toBe(
      'GW.REQUEST_CLOSED',
    );
    expect(refusal(claimLockRequest(pending(), claim, at(620))).errorCode).toBe(
      'GW.REQUEST_CLOSED',
    );
  });
});

describe('voidLockRequest, finishLockRequest, settleLockRequest', () => {
  it('voids a request about to run, with the difference as its reason', () => {
    expect(accepted(voidLockRequest(executing(), 'lock changed', at(630)))).toMatchObject({
      state: 'VOIDED',
      reason: 'lock changed',
      executor: null,
      claimUntil: null,
    });
    expect(accepted(voidLockRequest(scheduled(), 'policy changed', at(630))).state).toBe('VOIDED');
    expect(refusal(voidLockRequest(pending(), 'x', at(630))).errorCode).toBe('GW.REQUEST_CLOSED');
  });

  it.each(['SUCCEEDED', 'FAILED', 'UNKNOWN'] as const)('finishes an execution as %s', (state) => {
    expect(accepted(finishLockRequest(executing(), state, null, at(640)))).toMatchObject({
      state,
      executor: null,
      claimUntil: null,
    });
  });

  it('releases an execution that sent nothing back to SCHEDULED, and only an executing one', () => {
    const claimed = executing();
    expect(accepted(releaseLockRequest(claimed, at(640)))).toMatchObject({
      state: 'SCHEDULED',
      notBefore: claimed.notBefore,
      executor: null,
      claimUntil: null,
      version: claimed.version + 1,
    });
    expect(refusal(releaseLockRequest(scheduled(), at(640))).errorCode).toBe('GW.REQUEST_CLOSED');
  });

  it('finishes only an executing request', () => {
    expect(refusal(finishLockRequest(scheduled(), 'SUCCEEDED', null, at(640))).errorCode).toBe(
      'GW.REQUEST_CLOSED',
    );
  });

  it('settles only an UNKNOWN execution', () => {
    const unknown = accepted(finishLockRequest(executing(), 'UNKNOWN', 'timeout', at(640)));
    expect(accepted(settleLockRequest(unknown, 'SUCCEEDED', 'lock read', at(700)))).toMatchObject({
      state: 'SUCCEEDED',
      reason: 'lock read',
      version: unknown.version + 1,
    });
    expect(refusal(settleLockRequest(executing(), 'FAILED', null, at(700))).errorCode).toBe(
      'GW.REQUEST_CLOSED',
    );
  });
});

describe('every sequence of transitions', () => {
  const ACTORS = [requester, lead1, lead2, stranger, otherIssuerBob];
  const step = fc.record({
    kind: fc.constantFrom(
      'approve',
      'deny',
      'cancel',
      'expire',
      'claim',
      'void',
      'finish',
      'settle',
    ),
    actor: fc.constantFrom(...ACTORS),
    advanceSeconds: fc.integer({ min: 0, max: 100_000 }),
    outcome: fc.constantFrom('SUCCEEDED', 'FAILED', 'UNKNOWN') as fc.Arbitrary<
      'SUCCEEDED' | 'FAILED' | 'UNKNOWN'
    >,
  });
  type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

  function apply(request: LockRequest, s: Step, now: Date): LockRequestTransition {
    switch (s.kind) {
      case 'approve':
        return approveLockRequest(request, s.actor, null, now, TIMINGS);
      case 'deny':
        return denyLockRequest(request, s.actor, 'no', now);
      case 'cancel':
        return cancelLockRequest(request, s.actor, null, now);
      case 'expire':
        return expireLockRequest(request, now);
      case 'claim':
        return claimLockRequest(
          request,
          { executor: 'r', claimUntil: new Date(now.getTime() + 60_000) },
          now,
        );
      case 'void':
        return voidLockRequest(request, 'changed', now);
      case 'finish':
        return finishLockRequest(request, s.outcome, null, now);
      case 'settle':
        return settleLockRequest(
          request,
          s.outcome === 'UNKNOWN' ? 'FAILED' : s.outcome,
          null,
          now,
        );
    }
  }

  it('never leaves an ended state, counts approvers once and never the requester', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 7_200 }),
        fc.array(step, { maxLength: 30 }),
        (approvalsRequired, coolingOffSeconds, steps) => {
          let request = createLockRequest(
            fields({ approvalsRequired, coolingOffSeconds }),
            T0,
            TIMINGS,
          );
          let now = T0;
          for (const s of steps) {
            now = new Date(now.getTime() + s.advanceSeconds * 1000);
            const transition = apply(request, s, now);
            if (!transition.ok) {
              expect([403, 409]).toContain(transition.refusal.status);
              continue;
            }
            const next = transition.request;
            expect(isEnded(request.state)).toBe(false);
            expect(next.version).toBe(request.version + 1);
            expect(next.updatedAt).toBe(now.toISOString());
            expect(next.fingerprint).toBe(request.fingerprint);
            const approvers = next.approvals.map((a) => `${a.approverIss}#${a.approverSub}`);
            expect(new Set(approvers).size).toBe(approvers.length);
            expect(approvers).not.toContain(`${requester.iss}#${requester.sub}`);
            const approved = next.approvals.filter((a) => a.decision === 'approve').length;
            if (next.state === 'PENDING_APPROVAL') expect(approved).toBeLessThan(approvalsRequired);
            if (next.state === 'SCHEDULED') expect(next.notBefore).not.toBeNull();
            request = next;
          }
        },
      ),
    );
  });
});
