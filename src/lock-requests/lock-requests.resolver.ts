import { Args, Context, Mutation, Query, Resolver } from '@nestjs/graphql';
import { callContextOf, type GraphqlContext } from '../common/gateway-request.js';
import type { LockRequest } from '../domain/lock-request.js';
import { principalId } from '../domain/principal.js';
import {
  CommentedLockRequestArgs,
  DenyLockRequestArgs,
  LockRequestArgs,
  LockRequestsArgs,
} from './dto/lock-request.args.js';
import { LOCK_REQUEST_LIST_DEFAULT_LIMIT, LockRequestsService } from './lock-requests.service.js';
import { LockRequestConnection, LockRequestModel } from './models/lock-request.model.js';

function toModel(request: LockRequest): LockRequestModel {
  return {
    id: request.id,
    state: request.state,
    projectId: request.projectId,
    instanceId: request.instanceId,
    action: request.action,
    lockRetentionDays: request.retentionDays,
    requester: principalId(request.requesterIss, request.requesterSub),
    approvalsRequired: request.approvalsRequired,
    approvals: request.approvals.map((approval) => ({
      approver: principalId(approval.approverIss, approval.approverSub),
      decision: approval.decision,
      comment: approval.comment,
      at: approval.at,
    })),
    notBefore: request.notBefore,
    expiresAt: request.expiresAt,
    createdAt: request.createdAt,
    updatedAt: request.updatedAt,
    reason: request.reason,
  };
}

@Resolver(() => LockRequestModel)
export class LockRequestsResolver {
  constructor(private readonly service: LockRequestsService) {}

  @Mutation(() => LockRequestModel)
  async approveLockRequest(
    @Args() args: CommentedLockRequestArgs,
    @Context() context: GraphqlContext,
  ): Promise<LockRequestModel> {
    const ctx = callContextOf(context.req, 'graphql');
    return toModel((await this.service.approve(ctx, args.id, args.comment ?? null)).request);
  }

  @Mutation(() => LockRequestModel)
  async denyLockRequest(
    @Args() args: DenyLockRequestArgs,
    @Context() context: GraphqlContext,
  ): Promise<LockRequestModel> {
    const ctx = callContextOf(context.req, 'graphql');
    return toModel((await this.service.deny(ctx, args.id, args.comment)).request);
  }

  @Mutation(() => LockRequestModel)
  async cancelLockRequest(
    @Args() args: CommentedLockRequestArgs,
    @Context() context: GraphqlContext,
  ): Promise<LockRequestModel> {
    const ctx = callContextOf(context.req, 'graphql');
    return toModel((await this.service.cancel(ctx, args.id, args.comment ?? null)).request);
  }

  /** Null when there is no such request, or the caller may not read it. */
  @Query(() => LockRequestModel, { nullable: true })
  async lockRequest(
    @Args() args: LockRequestArgs,
    @Context() context: GraphqlContext,
  ): Promise<LockRequestModel | null> {
    const request = await this.service.find(callContextOf(context.req, 'graphql'), args.id);
    return request === null ? null : toModel(request);
  }

  @Query(() => LockRequestConnection)
  async lockRequests(
    @Args() args: LockRequestsArgs,
    @Context() context: GraphqlContext,
  ): Promise<LockRequestConnection> {
    const page = await this.service.list(
      callContextOf(context.req, 'graphql'),
      args.filter ?? {},
      args.first ?? LOCK_REQUEST_LIST_DEFAULT_LIMIT,
      args.after,
    );
    return {
      nodes: page.requests.map(toModel),
      pageInfo: { hasNextPage: page.nextCursor !== null, endCursor: page.nextCursor },
    };
  }
}
