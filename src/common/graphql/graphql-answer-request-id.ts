/** How every GraphQL answer that carries errors begins: Apollo and the filter both put them first. */
const ERRORS_FIRST = '{"errors":';

/**
 * Adds the request id to each error of a serialised GraphQL answer that lacks one. formatError
 * cannot see the request, and Apollo refuses some requests (CSRF, a body that is not one
 * operation, `variables` that are not an object) before any plugin hook runs; so the id is added
 * here, on the way out, whoever wrote the answer. Answers without errors are passed as they are.
 */
export function withRequestIdInErrors(payload: string, requestId: string): string {
  if (!payload.startsWith(ERRORS_FIRST)) return payload;
  const answer = JSON.parse(payload) as { errors?: { extensions?: Record<string, unknown> }[] };
  const lacking = (answer.errors ?? []).filter((e) => e.extensions?.requestId === undefined);
  if (lacking.length === 0) return payload;
  for (const error of lacking) error.extensions = { ...error.extensions, requestId };
  return JSON.stringify(answer);
}
