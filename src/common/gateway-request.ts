import type { ArgumentsHost } from '@nestjs/common';
import { GqlArgumentsHost, type GqlContextType } from '@nestjs/graphql';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../domain/principal.js';
import type { CallContext, Channel } from './call-context.js';

/** A caller's request id is kept only if it is short and plain enough to log and echo safely. */
export const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * The caller's `X-Request-Id`, when it sent a sane one, else null: kept beside the gateway's
 * own id (in the audit row and the access line) and echoed in the answer's `X-Request-Id`.
 */
export function correlationIdOf(request: Pick<FastifyRequest, 'headers'>): string | null {
  const offered = request.headers['x-request-id'];
  return typeof offered === 'string' && SANE_REQUEST_ID.test(offered) ? offered : null;
}

/**
 * The Fastify request as the gateway decorates it: the verified principal, attached by the guard
 * (REST) or by Apollo's context function (GraphQL); and, for the request metrics, the GraphQL
 * operation it ran and the error code it was answered with, where they are known.
 */
export type GatewayRequest = FastifyRequest & {
  principal?: Principal;
  /** `mutation setBackupVaultLock`: the operation type and its root fields. */
  graphqlOperation?: string;
  /** The `GW.*` or `DBS.*` code of the error answered, or `ok`. */
  outcome?: string;
};

/** What the GraphQL context holds for each operation (see the GraphQL module's `context`). */
export interface GraphqlContext {
  req: GatewayRequest;
  reply: FastifyReply;
}

export interface ChannelHandle {
  channel: Channel;
  req: GatewayRequest;
  reply: FastifyReply;
}

/** Guards and filters serve both channels: this is the one place that tells them apart. */
export function channelOf(host: ArgumentsHost): ChannelHandle {
  if (host.getType<GqlContextType>() === 'graphql') {
    const context = GqlArgumentsHost.create(host).getContext<GraphqlContext>();
    return { channel: 'graphql', req: context.req, reply: context.reply };
  }
  const http = host.switchToHttp();
  return {
    channel: 'rest',
    req: http.getRequest<GatewayRequest>(),
    reply: http.getResponse<FastifyReply>(),
  };
}

export function callContextOf(req: GatewayRequest, channel: Channel): CallContext {
  if (!req.principal) {
    // The global guard runs before every handler that asks for a call context.
    throw new Error('call context requested on an unauthenticated request');
  }
  return {
    requestId: req.id,
    correlationId: correlationIdOf(req),
    channel,
    principal: req.principal,
    callerAddress: req.ip,
  };
}
