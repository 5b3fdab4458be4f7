import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { GqlExceptionFilter } from '@nestjs/graphql';
import { GraphQLError } from 'graphql';
import type { ErrorBody } from './api-responses.js';
import { GatewayError, GwCode } from './gateway-error.js';
import { channelOf } from './gateway-request.js';
import { GRAPHQL_PATH } from './graphql/graphql-options.js';
import { toGatewayError } from './to-gateway-error.js';

/** Both channels answer errors from the same fields: REST as a body, GraphQL as extensions. */
@Catch()
export class GatewayExceptionFilter implements ExceptionFilter, GqlExceptionFilter {
  private readonly logger = new Logger(GatewayExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): unknown {
    const error = toGatewayError(exception);
    const { channel, req, reply } = channelOf(host);
    // A replayed answer names the request that produced it, as it did the first time.
    const requestId = error.requestId ?? req.id;
    this.log(error, exception);

    // GraphQL answers 200 with the error, but a throttled caller is told when to retry alike.
    if (error.retryAfterSeconds !== undefined) {
      void reply.header('retry-after', String(error.retryAfterSeconds));
    }
    if (channel === 'graphql') return toGraphqlError(error, requestId);

    req.outcome = error.errorCode;
    if (error.auditId) void reply.header('x-audit-id', error.auditId);
    void reply.status(error.status).send(
      // A request to the GraphQL endpoint refused before Apollo saw it (a body that is not JSON,
      // or too large) is still answered the way a GraphQL client reads errors.
      req.routeOptions.url === GRAPHQL_PATH
        ? { errors: [toGraphqlError(error, requestId).toJSON()] }
        : restErrorBody(error, requestId),
    );
    return undefined;
  }

  private log(error: GatewayError, exception: unknown): void {
    if (error.errorCode === GwCode.INTERNAL) {
      this.logger.error({ err: exception }, 'unexpected error');
    } else if (error.status >= 500) {
      this.logger.warn(`${error.errorCode}: ${error.message}`);
    }
  }
}

/** The contract's REST error body (DESIGN §2). */
export function restErrorBody(error: GatewayError, requestId: string): ErrorBody {
  return { error_code: error.errorCode, error_msg: error.message, request_id: requestId };
}

/**
 * `withHttpStatus` for a request Apollo refuses as a whole, before any resolver: Apollo then
 * answers with the error's own HTTP status instead of 200.
 */
export function toGraphqlError(
  error: GatewayError,
  requestId: string,
  { withHttpStatus = false } = {},
): GraphQLError {
  return new GraphQLError(error.message, {
    extensions: {
      ...(withHttpStatus ? { http: { status: error.status } } : {}),
      code: error.graphqlCode,
      errorCode: error.errorCode,
      requestId,
      ...(error.auditId ? { auditId: error.auditId } : {}),
      ...(error.retryAfterSeconds !== undefined
        ? { retryAfterSeconds: error.retryAfterSeconds }
        : {}),
    },
  });
}
