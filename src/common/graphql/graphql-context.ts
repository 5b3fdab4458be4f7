import { Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../../domain/principal.js';
import { GatewayError, GwCode } from '../gateway-error.js';
import { toGraphqlError } from '../gateway-exception.filter.js';
import type { GatewayRequest, GraphqlContext } from '../gateway-request.js';
import { toGatewayError } from '../to-gateway-error.js';
import { documentNestingRefusal } from './document-limits.rule.js';

/** What admitting a request needs of authentication (the internal token verifier does it). */
export interface CallerAuthenticator {
  /** The caller behind an `Authorization` header; rejects when none can be verified. */
  authenticate(authorization: string | undefined): Promise<Principal>;
}

/**
 * Apollo builds the context once per HTTP request, before it reads the document, so this is
 * where a request is admitted. The caller is authenticated first: no operation (introspection
 * and `__typename` included, which no resolver and so no guard ever sees) is parsed or executed
 * for a caller without a valid token. Then a document nested too deep for the parser's recursion
 * is refused before the parser sees it. The principal stays on the request for the guard and the
 * resolvers.
 */
export function graphqlContext(verifier: CallerAuthenticator) {
  const logger = new Logger('GraphqlContext');
  return async (req: GatewayRequest, reply: FastifyReply): Promise<GraphqlContext> => {
    try {
      req.principal = await verifier.authenticate(req.headers.authorization);
      for (const query of documentsOf(req)) {
        const refusal = documentNestingRefusal(query);
        if (refusal) throw new GatewayError(GwCode.VALIDATION, 400, refusal);
      }
    } catch (exception) {
      const error = toGatewayError(exception);
      req.outcome = error.errorCode;
      if (error.errorCode === GwCode.INTERNAL) logger.error({ err: exception }, 'unexpected error');
      throw toGraphqlError(error, req.id, { withHttpStatus: true });
    }
    return { req, reply };
  };
}

/** The documents Apollo will parse, read from where it reads them. */
function documentsOf(req: GatewayRequest): string[] {
  if (req.method === 'GET') {
    return new URLSearchParams(new URL(req.url, 'http://gateway').search).getAll('query');
  }
  const body: unknown = req.body;
  const query =
    typeof body === 'object' && body !== null ? (body as { query?: unknown }).query : '';
  return typeof query === 'string' ? [query] : [];
}
