import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from '../common/gateway-metrics.js';
import { withRequestIdInErrors } from '../common/graphql/graphql-answer-request-id.js';
import { GRAPHQL_PATH } from '../common/graphql/graphql-options.js';

/**
 * Hooks at the Fastify level so that every answer is covered, including the ones Fastify gives
 * before Nest sees the request (oversized body, unknown route) and Apollo's own answers.
 */
export function installRequestHooks(fastify: FastifyInstance, metrics: GatewayMetrics): void {
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
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
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const channel = route === GRAPHQL_PATH ? 'graphql' : 'rest';
    metrics.httpRequests.inc({ channel, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ channel, route }, reply.elapsedTime / 1000);
  });
}
