import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { restErrorBody } from '../common/gateway-exception.filter.js';
import { correlationIdOf } from '../common/gateway-request.js';
import { logAccess, UNMATCHED_ROUTE, writeAccessLine } from './request-hooks.js';

const refusals: Record<string, { status: number; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, message: 'headers: must be at most 16 KB in total' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'request: not received in time' },
};
const malformed = { status: 400, message: 'request: malformed HTTP' };

/**
 * Node refuses some requests before Fastify sees them (headers too large, CR/LF or other bytes
 * HTTP forbids, too slow). They still get the contract's error shape; the request id is a new
 * one, since a header of a request that could not be parsed is not to be trusted or echoed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, message } = refusals[error.code ?? ''] ?? malformed;
  // As Node's own handler: once a response on this connection has begun, nothing may be written
  // into the middle of it.
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    const requestId = randomUUID();
    const body = JSON.stringify(
      restErrorBody(new GatewayError(GwCode.VALIDATION, status, message), requestId),
    );
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
    // Nothing of a request that could not be parsed is logged: it would be the caller's bytes.
    writeAccessLine({ reqId: requestId, channel: 'rest', route: UNMATCHED_ROUTE, status });
  }
  socket.destroy();
}

const routerRefusals: Record<string, string> = {
  FST_ERR_BAD_URL: 'path: malformed percent-encoding',
  FST_ERR_MAX_PARAM_LENGTH: 'path: a path parameter is too long',
};

/**
 * Fastify's router refuses some paths before any hook runs (bad percent-encoding, an over-long
 * parameter); Nest would send Fastify's own body, which echoes the path. These get the
 * contract's shape and the request id like every other answer.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = error.statusCode ?? 400;
  void reply
    .code(status)
    .header('x-request-id', correlationIdOf(request) ?? request.id)
    .send(
      restErrorBody(
        new GatewayError(GwCode.VALIDATION, status, routerRefusals[error.code] ?? 'path: refused'),
        request.id,
      ),
    );
  logAccess(request, reply);
}
