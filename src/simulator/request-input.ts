import type { FastifyRequest } from 'fastify';

export type JsonObject = Record<string, unknown>;

export const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The value at `path` inside a parsed JSON body, or undefined when any step is missing. */
export function pick(value: unknown, ...path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (isJsonObject(node) ? node[key] : undefined), value);
}

export const isNonEmptyString = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0;

export function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Stands in for a body that is not valid JSON. Parsing never fails, so every request reaches its
 * route (and is counted there), which then refuses it in its own service's error format.
 */
export const UNPARSABLE_BODY = Symbol('unparsable body');

export function parseBodyLeniently(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return UNPARSABLE_BODY;
  }
}
