import { HttpException } from '@nestjs/common';
import { GatewayError, GwCode } from './gateway-error.js';

/** Nest's own HTTP errors (unknown route, wrong method) keep their status under a gateway code. */
const codeByStatus: Record<number, string> = {
  400: GwCode.VALIDATION,
  401: GwCode.UNAUTHENTICATED,
  403: GwCode.FORBIDDEN,
  404: GwCode.NOT_FOUND,
  405: GwCode.NOT_FOUND,
  413: GwCode.PAYLOAD_TOO_LARGE,
  415: GwCode.VALIDATION,
  429: GwCode.RATE_LIMITED,
};

/** Fastify rejects some requests before a handler runs; these are its codes we answer for. */
const fastifyMessages: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body: must not exceed the request size limit',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'content-type: must be application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'content-length: does not match the body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'body: must be a JSON object',
  FST_ERR_CTP_INVALID_JSON_BODY: 'body: must be valid JSON',
};

interface FastifyLikeError {
  code: string;
  statusCode: number;
}

function isFastifyError(error: unknown): error is FastifyLikeError & Error {
  return (
    error instanceof Error &&
    typeof (error as Partial<FastifyLikeError>).code === 'string' &&
    typeof (error as Partial<FastifyLikeError>).statusCode === 'number'
  );
}

/**
 * Turns anything thrown while serving a request into the gateway's one error type. Unknown
 * errors become a bare 500: their message may hold internals, so it is never shown.
 */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof HttpException) {
    const status = error.getStatus();
    return new GatewayError(
      codeByStatus[status] ?? (status >= 500 ? GwCode.INTERNAL : GwCode.VALIDATION),
      status,
      status === 404 ? 'no such route' : error.message,
    );
  }
  if (isFastifyError(error) && error.statusCode < 500) {
    const status = error.statusCode;
    // SyntaxError from JSON.parse carries the offending text: never echo it.
    const message =
      fastifyMessages[error.code] ??
      (error instanceof SyntaxError ? 'body: must be valid JSON' : 'request refused');
    return new GatewayError(codeByStatus[status] ?? GwCode.VALIDATION, status, message);
  }
  return GatewayError.internal(error);
}
