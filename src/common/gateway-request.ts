import type { ArgumentsHost } from '@nestjs/common';
import { GqlArgumentsHost, type GqlContextType } from '@nestjs/graphql';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { CallContext, Channel } from './call-context.js';

/**
 * The Fastify request as the gateway decorates it: the verified principal, attached by the guard
 * (REST) or by Apollo's context function (GraphQL).
 */
export type GatewayRequest = FastifyRequest & { principal?: Principal };

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
  return { requestId: req.id, channel, principal: req.principal, callerAddress: req.ip };
}
