import { Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { InternalTokenVerifier } from '../../auth/internal-token-verifier.js';
import { GwCode } from '../gateway-error.js';
import { toGraphqlError } from '../gateway-exception.filter.js';
import type { GatewayRequest, GraphqlContext } from '../gateway-request.js';
import { toGatewayError } from '../to-gateway-error.js';

/**
 * Apollo builds the context once per HTTP request, before it reads the document: the caller is
 * authenticated here, so no operation (introspection and `__typename` included, which no resolver
 * and so no guard ever sees) is parsed or executed for a caller without a valid token. The
 * principal stays on the request for the guard and the resolvers.
 */
export function graphqlContext(verifier: InternalTokenVerifier) {
  const logger = new Logger('GraphqlContext');
  return async (req: GatewayRequest, reply: FastifyReply): Promise<GraphqlContext> => {
    try {
      req.principal = await verifier.authenticate(req.headers.authorization);
    } catch (exception) {
      const error = toGatewayError(exception);
      if (error.errorCode === GwCode.INTERNAL) logger.error({ err: exception }, 'unexpected error');
      throw toGraphqlError(error, req.id, { withHttpStatus: true });
    }
    return { req, reply };
  };
}
