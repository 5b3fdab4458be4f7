import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { v7 as uuidv7 } from 'uuid';
import { authConfig } from '../auth/auth.config.js';
import type { CallContext } from '../common/call-context.js';
import { boundedText } from '../common/bounded-text.js';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { decodeIdCursor, encodeIdCursor } from '../common/id-cursor.js';
import type { VaultLockAction } from '../domain/actions.js';
import type { LockRequest, LockRequestState } from '../domain/lock-request.js';
import type { PolicyDecision } from '../policy/policy.types.js';
import { TaurusDb } from '../taurusdb/taurusdb.js';
import { lockSnapshotOf } from './lock-evidence.js';
import { LockRequestRecorder, partyOf, type RecordedTransition } from './lock-request-recorder.js';
import { LockRequestStore, type LockRequestQuery } from './lock-request-store.js';
import {
  approveLockRequest,
  cancelLockRequest,
  createLockRequest,
  denyLockRequest,
  hiddenLockRequest,
  type LockRequestActor,
  type LockRequestTimings,
  type LockRequestTransition,
} from './lock-request-transitions.js';
import { lockRequestsConfig } from './lock-requests.config.js';

/** The longest comment kept on an approval, a deny or a cancel. */
export const MAX_COMMENT_CHARS = 1_000;
export const LOCK_REQUEST_LIST_DEFAULT_LIMIT = 50;
export const LOCK_REQUEST_LIST_MAX_LIMIT = 500;

/** A lock change that the policy allowed on the condition of approvals or a wait. */
export interface LockChangeRequest {
  projectId: string;
  instanceId: string;
  action: VaultLockAction;
  retentionDays: number;
}

/** What the allowing decision asks of the change. */
export type DeferringDecision = Pick<
  PolicyDecision,
  'ruleId' | 'policyVersion' | 'approvalsRequired' | 'approverGroups' | 'coolingOffSeconds'
>;

/** A change is deferred to a lock request when the rule asks for approvals or a wait. */
export function defersChange(
  decision: Pick<PolicyDecision, 'approvalsRequired' | 'coolingOffSeconds'>,
): boolean {
  return decision.approvalsRequired > 0 || decision.coolingOffSeconds > 0;
}

export interface LockRequestFilter {
  state?: LockRequestState;
  projectId?: string;
  instanceId?: string;
  awaitingMyApproval?: boolean;
  mine?: boolean;
}

export interface LockRequestPage {
  requests: LockRequest[];
  nextCursor: string | null;
}

/**
 * Lock requests as callers see them (DESIGN §6): made by a mutation whose rule asks for approvals
 * or a cooling-off, then approved, denied or cancelled by people; every change through the
 * recorder (audit row, compare-and-set, seal).
 *
 * Who may read a request: its requester, a member of one of its approver groups, and the auditor
 * group, which reads every transition in the audit trail anyway. A policy that allows `show` on
 * the instance is not enough: it is about the lock, and a request carries other people's names
 * and comments. Anyone else is told the request does not exist.
 */
@Injectable()
export class LockRequestsService {
  constructor(
    private readonly store: LockRequestStore,
    private readonly recorder: LockRequestRecorder,
    private readonly taurusDb: TaurusDb,
    private readonly clock: Clock,
    @Inject(lockRequestsConfig.KEY) private readonly timings: LockRequestTimings,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  /**
   * Makes the request that stands in for an allowed change: reads the lock it binds to (on the
   * caller's behalf, after its `request` row is written), then stores it.
   */
  async request(
    ctx: CallContext,
    change: LockChangeRequest,
    decision: DeferringDecision,
  ): Promise<RecordedTransition> {
    const fields = {
      ...change,
      id: uuidv7(),
      requesterIss: ctx.principal.issuer,
      requesterSub: ctx.principal.subject,
      requesterGroups: ctx.principal.groups,
      // An allowing decision always names its rule.
      ruleId: decision.ruleId ?? 'none',
      policyVersion: decision.policyVersion,
      approvalsRequired: decision.approvalsRequired,
      approverGroups: decision.approverGroups,
      coolingOffSeconds: decision.coolingOffSeconds,
    };
    return this.recorder.create(partyOf(ctx), fields, async () => {
      const lockAtRequest = lockSnapshotOf(await this.taurusDb.showLock(ctx, change));
      return createLockRequest({ ...fields, lockAtRequest }, this.clock.now(), this.timings);
    });
  }

  /** The request, or null when there is none or the caller may not read it. */
  async find(ctx: CallContext, id: string): Promise<LockRequest | null> {
    const request = await this.recorder.stored(this.store.get(id));
    return request !== null && this.mayRead(ctx, request) ? request : null;
  }

  /** The request, or 404 when there is none or the caller may not read it. */
  async get(ctx: CallContext, id: string): Promise<LockRequest> {
    const request = await this.find(ctx, id);
    if (request === null) throw notFound(id);
    return request;
  }

  /**
   * Newest first. `mine` and `awaitingMyApproval` list what the caller may read by definition;
   * every other listing is the auditor group's.
   */
  async list(
    ctx: CallContext,
    filter: LockRequestFilter,
    limit: number,
    cursor?: string,
  ): Promise<LockRequestPage> {
    const { principal } = ctx;
    if (!filter.mine && !filter.awaitingMyApproval && !principal.inGroup(this.auth.auditorGroup)) {
      throw GatewayError.forbidden(
        `listing every lock request needs the ${this.auth.auditorGroup} group; ask for mine or awaitingMyApproval`,
      );
    }
    const query: LockRequestQuery = {
      state: filter.state,
      projectId: filter.projectId,
      instanceId: filter.instanceId,
      requester: filter.mine ? { iss: principal.issuer, sub: principal.subject } : undefined,
      awaitingApprovalBy: filter.awaitingMyApproval
        ? { iss: principal.issuer, sub: principal.subject, groups: principal.groups }
        : undefined,
      beforeId: cursor === undefined ? undefined : decodeIdCursor(cursor),
    };
    const { requests, more } = await this.recorder.stored(this.store.list(query, limit));
    return {
      requests,
      nextCursor: more ? encodeIdCursor(requests[requests.length - 1].id) : null,
    };
  }

  approve(ctx: CallContext, id: string, comment: string | null): Promise<RecordedTransition> {
    const text = commentOf(comment);
    return this.change(ctx, id, 'approve', (current, actor, now) =>
      approveLockRequest(current, actor, text, now, this.timings),
    );
  }

  deny(ctx: CallContext, id: string, comment: string): Promise<RecordedTransition> {
    const text = commentOf(comment) ?? '';
    return this.change(ctx, id, 'deny', (current, actor, now) =>
      denyLockRequest(current, actor, text, now),
    );
  }

  cancel(ctx: CallContext, id: string, comment: string | null): Promise<RecordedTransition> {
    const text = commentOf(comment);
    return this.change(ctx, id, 'cancel', (current, actor, now) =>
      cancelLockRequest(current, actor, text, now),
    );
  }

  /**
   * A person's transition. Someone who may not read the request is told it is not there, as a
   * read would tell them (no state, no approver groups); the attempt is still a row of the trail.
   */
  private async change(
    ctx: CallContext,
    id: string,
    action: 'approve' | 'deny' | 'cancel',
    step: (current: LockRequest, actor: LockRequestActor, now: Date) => LockRequestTransition,
  ): Promise<RecordedTransition> {
    const request = await this.load(id);
    const actor = actorOf(ctx);
    return this.recorder.transition(request, {
      action,
      party: partyOf(ctx),
      apply: (current) =>
        this.mayRead(ctx, current) ? step(current, actor, this.clock.now()) : hiddenLockRequest(id),
    });
  }

  private async load(id: string): Promise<LockRequest> {
    const request = await this.recorder.stored(this.store.get(id));
    if (request === null) throw notFound(id);
    return request;
  }

  private mayRead(ctx: CallContext, request: LockRequest): boolean {
    const { principal } = ctx;
    return (
      (request.requesterIss === principal.issuer && request.requesterSub === principal.subject) ||
      request.approverGroups.some((group) => principal.inGroup(group)) ||
      principal.inGroup(this.auth.auditorGroup)
    );
  }
}

function actorOf(ctx: CallContext): LockRequestActor {
  return { iss: ctx.principal.issuer, sub: ctx.principal.subject, groups: ctx.principal.groups };
}

/** Stored as it can be shown: control characters escaped, and never longer than the bound. */
function commentOf(comment: string | null): string | null {
  return comment === null ? null : boundedText(comment, MAX_COMMENT_CHARS);
}

function notFound(id: string): GatewayError {
  return new GatewayError(GwCode.NOT_FOUND, 404, `lock request ${id} not found`);
}
