import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** A caller's request id is kept only if it is short and plain enough to log and echo safely. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Fastify's id generator: the gateway's own id for the request, new for every request, so that
 * log lines and audit rows of two calls never share one whatever the callers send.
 */
export function requestIdFor(): string {
  return randomUUID();
}

/**
 * The caller's `X-Request-Id`, when it sent a sane one: kept beside the gateway's id (in the audit
 * row and the access line) and echoed in the answer's `X-Request-Id`, so a caller can correlate.
 */
export function correlationIdOf(request: Pick<FastifyRequest, 'headers'>): string | null {
  const offered = request.headers['x-request-id'];
  return typeof offered === 'string' && SANE_REQUEST_ID.test(offered) ? offered : null;
}
