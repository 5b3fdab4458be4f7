import { createHash } from 'node:crypto';
import { type ExecutionContext, Injectable } from '@nestjs/common';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { channelOf, type GatewayRequest } from '../common/gateway-request.js';

export type CallKind = 'mutations' | 'reads';

/** PUTs and GraphQL mutations are mutations; GETs and GraphQL queries are reads. */
export function callKindOf(context: ExecutionContext): CallKind {
  if (context.getType<GqlContextType>() === 'graphql') {
    const operation = GqlExecutionContext.create(context).getInfo().operation.operation;
    return operation === 'mutation' ? 'mutations' : 'reads';
  }
  const method = context.switchToHttp().getRequest<GatewayRequest>().method;
  return method === 'GET' || method === 'HEAD' ? 'reads' : 'mutations';
}

/**
 * The throttler, keyed by the authenticated principal (`iss#sub`) rather than by address, with
 * one counter per kind of call shared by both channels and every route. Registered after the
 * authentication guard: an unauthenticated request is refused before it is counted, and
 * routes without a principal (health, metrics) are not limited.
 */
@Injectable()
export class PrincipalRateLimitGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return channelOf(context).req.principal === undefined;
  }

  protected override getRequestResponse(context: ExecutionContext) {
    const { req, reply } = channelOf(context);
    return { req, res: reply };
  }

  protected override async getTracker(req: GatewayRequest): Promise<string> {
    return req.principal!.id;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string) {
    return `rate:${name}:${createHash('sha256').update(tracker).digest('base64url')}`;
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    { limit, timeToBlockExpire }: ThrottlerLimitDetail,
  ): Promise<void> {
    const retryAfterSeconds = Math.max(1, timeToBlockExpire);
    throw new GatewayError(
      GwCode.RATE_LIMITED,
      429,
      `rate limit: at most ${limit} ${callKindOf(context)} per minute per caller; retry after ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }
}
