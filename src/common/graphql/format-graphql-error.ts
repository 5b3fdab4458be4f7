import { Logger } from '@nestjs/common';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { GwCode, type GraphqlErrorCode } from '../gateway-error.js';

/** Apollo's own codes for documents that never reached a resolver. */
const requestLevelCodes = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'PERSISTED_QUERY_NOT_FOUND',
]);

/** Apollo's own messages that say too little to a caller. */
const clearerMessages: Record<string, string> = {
  PERSISTED_QUERY_NOT_SUPPORTED:
    'extensions.persistedQuery: automatic persisted queries are not supported; send the query',
};

const logger = new Logger('GraphQL');

/**
 * The last word on what a GraphQL error may say. Errors the gateway raised carry `errorCode`
 * and keep their message; request-level errors from graphql-js and Apollo (its codes, or a 4xx
 * HTTP status it gave the error) become BAD_USER_INPUT; anything else is an internal error,
 * logged, whose message is not shown. Only whitelisted extensions survive, so no stack trace or
 * `originalError` ever leaves.
 */
export function formatGraphqlError(
  formatted: GraphQLFormattedError,
  error?: unknown,
): GraphQLFormattedError {
  const extensions = formatted.extensions ?? {};
  const base = { locations: formatted.locations, path: formatted.path };

  if (typeof extensions.errorCode === 'string') {
    return {
      ...base,
      message: formatted.message,
      extensions: pick(extensions, [
        'code',
        'errorCode',
        'requestId',
        'auditId',
        'retryAfterSeconds',
      ]),
    };
  }
  const code = typeof extensions.code === 'string' ? extensions.code : '';
  if (requestLevelCodes.has(code) || isRefusedRequest(error)) {
    return {
      ...base,
      message: clearerMessages[code] ?? formatted.message,
      extensions: {
        code: 'BAD_USER_INPUT' satisfies GraphqlErrorCode,
        errorCode: GwCode.VALIDATION,
      },
    };
  }
  logger.error({ err: error }, 'unexpected GraphQL error');
  return {
    ...base,
    message: 'internal error',
    extensions: {
      code: 'INTERNAL_SERVER_ERROR' satisfies GraphqlErrorCode,
      errorCode: GwCode.INTERNAL,
    },
  };
}

/** Apollo refuses some requests with a 4xx status but no code of its own. */
function isRefusedRequest(error: unknown): boolean {
  const http = error instanceof GraphQLError ? error.extensions.http : undefined;
  const status = (http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

function pick(source: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}
