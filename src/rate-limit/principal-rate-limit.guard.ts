import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { channelOf, type GatewayRequest } from '../common/gateway-request.js';
import { RateLimits, type CallKind } from './rate-limits.js';

export function callKindOf(context: ExecutionContext): CallKind {
  if (context.getType<GqlContextType>() === 'graphql') {
    const operation = GqlExecutionContext.create(context).getInfo().operation.operation;
    return operation === 'mutation' ? 'mutations' : 'reads';
  }
  const method = context.switchToHttp().getRequest<GatewayRequest>().method;
  return method === 'GET' || method === 'HEAD' ? 'reads' : 'mutations';
}

/**
 * Limits each authenticated principal (`iss#sub`), one counter per kind of call shared by both
 * channels and every route. Registered after the authentication guard: an unauthenticated
 * request is refused before it is counted, and routes without a principal (health, metrics)
 * are not limited. In GraphQL each root field counts as one call.
 */
@Injectable()
export class PrincipalRateLimitGuard implements CanActivate {
  constructor(
    private readonly limits: RateLimits,
    private readonly metrics: GatewayMetrics,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const principal = channelOf(context).req.principal;
    if (principal === undefined) return true;
    const kind = callKindOf(context);
    const refusal = await this.limits.consume(kind, principal.id);
    if (refusal === undefined) return true;
    this.metrics.rateLimitRefusals.inc({ kind });
    throw new GatewayError(
      GwCode.RATE_LIMITED,
      429,
      `rate limit: at most ${refusal.limit} ${kind} per minute per caller; retry after ${refusal.retryAfterSeconds} s`,
      { retryAfterSeconds: refusal.retryAfterSeconds },
    );
  }
}
