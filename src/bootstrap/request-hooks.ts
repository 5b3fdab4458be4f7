import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
} from '@opentelemetry/semantic-conventions';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import type { Channel } from '../common/call-context.js';
import type { GatewayMetrics } from '../common/gateway-metrics.js';
import { correlationIdOf, type GatewayRequest } from '../common/gateway-request.js';
import { withRequestIdInErrors } from '../common/graphql/graphql-answer-request-id.js';
import { GRAPHQL_PATH } from '../common/graphql/graphql-options.js';
import type { IncomingSpan, SpanAttributes, Tracing } from '../tracing/tracing.js';

/** The channel an answer is counted and logged under: the two APIs, or the operations routes. */
export type AccessChannel = Channel | 'ops';

const OPS_ROUTE_PREFIXES = ['/health/', '/metrics', '/openapi.json', '/docs'];
export const UNMATCHED_ROUTE = 'unmatched';

const routeOf = (request: FastifyRequest): string => request.routeOptions.url ?? UNMATCHED_ROUTE;

function channelOfRoute(route: string): AccessChannel {
  if (route === GRAPHQL_PATH) return 'graphql';
  return OPS_ROUTE_PREFIXES.some((prefix) => route.startsWith(prefix)) ? 'ops' : 'rest';
}

/**
 * Hooks at the Fastify level so that every answer is covered, including the ones Fastify gives
 * before Nest sees the request (oversized body, unknown route) and Apollo's own answers. They
 * also bind the request's logging context, so that whatever the call logs carries its id, and
 * its trace: each call on the two APIs is the server span its work is traced under (the
 * operations routes, probed every few seconds, are not traced).
 */
export function installRequestHooks(
  fastify: FastifyInstance,
  metrics: GatewayMetrics,
  logger: PinoLogger,
  tracing: Tracing,
): void {
  const spans = new WeakMap<FastifyRequest, IncomingSpan>();
  const inRequestContext = (request: FastifyRequest, done: () => void) => {
    const bound = () => logger.runInContext(done, { bindings: { reqId: request.id } });
    const span = spans.get(request);
    return span ? span.run(bound) : bound();
  };

  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', correlationIdOf(request) ?? request.id);
    const route = routeOf(request);
    const channel = channelOfRoute(route);
    const span =
      channel === 'ops'
        ? undefined
        : tracing.startIncoming(`${request.method} ${route}`, request.headers, {
            [ATTR_HTTP_REQUEST_METHOD]: request.method,
            [ATTR_HTTP_ROUTE]: route,
            [CALL_ATTRIBUTES.channel]: channel,
            [CALL_ATTRIBUTES.requestId]: request.id,
          });
    if (span) spans.set(request, span);
    inRequestContext(request, done);
  });
  // The body is read on the socket's own events, outside the context bound above: the handler
  // (guards, pipes, resolvers, filters) runs in one bound again once it has arrived.
  fastify.addHook('preHandler', (request, _reply, done) => inRequestContext(request, done));
  // A keep-alive socket whose request was still running when the server began to close would
  // otherwise stay open until it idles out, holding the shutdown that long.
  fastify.addHook('onSend', async (_request, reply) => {
    if (!fastify.server.listening) void reply.header('connection', 'close');
  });
  fastify.addHook('onSend', async (request, _reply, payload) =>
    request.routeOptions.url === GRAPHQL_PATH && typeof payload === 'string'
      ? withRequestIdInErrors(payload, request.id)
      : payload,
  );
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = routeOf(request);
    const channel = channelOfRoute(route);
    metrics.httpRequests.inc({ channel, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ channel, route }, reply.elapsedTime / 1000);
    metrics.operationDuration.observe(
      { channel, operation: operationOf(request), outcome: outcomeOf(request, reply) },
      reply.elapsedTime / 1000,
    );
    const span = spans.get(request);
    if (span === undefined) {
      logAccess(request, reply);
    } else {
      // The access line is written inside the span, so it carries the trace id too.
      span.run(() => logAccess(request, reply));
      span.end(callAttributes(request, reply), reply.statusCode >= 500);
    }
    done();
  });
}

/** The attributes of a call's server span that the gateway names itself. */
const CALL_ATTRIBUTES = {
  channel: 'gateway.channel',
  requestId: 'gateway.request_id',
  /** `iss#sub`: who the verified token names; never the token. */
  principal: 'enduser.id',
  /** `ok` or the error code answered, as the operation metric's label. */
  outcome: 'gateway.outcome',
  operation: 'gateway.operation',
} as const;

/** What a call's span learns once it is answered. */
function callAttributes(request: GatewayRequest, reply: FastifyReply): SpanAttributes {
  const principal = request.principal?.id;
  return {
    [ATTR_HTTP_RESPONSE_STATUS_CODE]: reply.statusCode,
    [CALL_ATTRIBUTES.outcome]: outcomeOf(request, reply),
    [CALL_ATTRIBUTES.operation]: operationOf(request),
    ...(principal === undefined ? {} : { [CALL_ATTRIBUTES.principal]: principal }),
  };
}

/** A GraphQL request's operation type and root fields; any other's method and route. */
function operationOf(request: GatewayRequest): string {
  return request.graphqlOperation ?? `${request.method} ${routeOf(request)}`;
}

/**
 * The error code the request was answered with, or `ok`. An error answered before the filter,
 * the GraphQL context or Apollo saw it has none: it is named by its HTTP status.
 */
function outcomeOf(request: GatewayRequest, reply: FastifyReply): string {
  if (request.outcome !== undefined) return request.outcome;
  return reply.statusCode < 400 ? 'ok' : `HTTP_${reply.statusCode}`;
}

/** What an access line says; what was not known when the request was refused is left out. */
export interface AccessEntry {
  reqId: string;
  correlationId?: string;
  channel: AccessChannel;
  method?: string;
  route: string;
  path?: string;
  status: number;
  durationMs?: number;
  principal?: string;
}

/** The one access line of a request: the hooks, the router's and Node's refusals all write it. */
export function writeAccessLine(entry: AccessEntry): void {
  const level = entry.status >= 500 ? 'error' : entry.status >= 400 ? 'warn' : 'info';
  PinoLogger.root[level](entry, 'request completed');
}

/**
 * The access line of a request Fastify answered. The path goes without its query string (which
 * may carry anything, secrets included); the principal is known once the guard has verified the
 * token. Also called for the answers the router gives before any hook runs.
 */
export function logAccess(request: FastifyRequest, reply: FastifyReply): void {
  const route = routeOf(request);
  writeAccessLine({
    reqId: request.id,
    correlationId: correlationIdOf(request) ?? undefined,
    channel: channelOfRoute(route),
    method: request.method,
    route,
    path: request.url.split('?', 1)[0],
    status: reply.statusCode,
    durationMs: Math.round(reply.elapsedTime),
    principal: (request as GatewayRequest).principal?.id,
  });
}
