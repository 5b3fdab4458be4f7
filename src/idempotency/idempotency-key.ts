import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Matches, ValidateIf } from 'class-validator';
import { GatewayError } from '../common/gateway-error.js';

/** DESIGN §5: 1 to 255 printable ASCII characters (space to tilde). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;
export const IDEMPOTENCY_KEY_RULE = 'must be 1 to 255 printable ASCII characters';

/** The REST header carrying the key, as the contract spells it. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** Sent with every replayed answer, on both channels. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** For the GraphQL input field: absent or null means no key. */
export function IsIdempotencyKey(): PropertyDecorator {
  return (target, property) => {
    ValidateIf((_object, value) => value !== undefined && value !== null)(target, property);
    Matches(IDEMPOTENCY_KEY_PATTERN, { message: IDEMPOTENCY_KEY_RULE })(target, property);
  };
}

/** The checked `Idempotency-Key` of a REST request: absent is undefined; anything else obeys the rule. */
export const IdempotencyKeyHeader = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string | undefined => {
    const value = context.switchToHttp().getRequest<FastifyRequest>().headers['idempotency-key'];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(value)) {
      throw GatewayError.validation(IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_RULE);
    }
    return value;
  },
);
