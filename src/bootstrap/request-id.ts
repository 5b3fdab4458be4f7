import { randomUUID } from 'node:crypto';

/**
 * Fastify's id generator: the gateway's own id for the request, new for every request, so that
 * log lines and audit rows of two calls never share one whatever the callers send. A caller's
 * own id is its correlation id (`correlationIdOf`).
 */
export function requestIdFor(): string {
  return randomUUID();
}
