/**
 * The one error type the gateway answers with. Everything else (upstream failures, database
 * errors, validation results) is turned into a GatewayError before it reaches a filter, so the
 * REST body and the GraphQL extensions are always built from the same fields.
 */
export type GraphqlErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'UPSTREAM_ERROR'
  | 'SERVICE_UNAVAILABLE'
  | 'GATEWAY_TIMEOUT'
  | 'INTERNAL_SERVER_ERROR';

/** The gateway's own `error_code` values; upstream `DBS.*` codes pass through as they are. */
export const GwCode = {
  VALIDATION: 'GW.VALIDATION',
  PAYLOAD_TOO_LARGE: 'GW.PAYLOAD_TOO_LARGE',
  UNAUTHENTICATED: 'GW.UNAUTHENTICATED',
  FORBIDDEN: 'GW.FORBIDDEN',
  POLICY_DENIED: 'GW.POLICY_DENIED',
  NOT_FOUND: 'GW.NOT_FOUND',
  RATE_LIMITED: 'GW.RATE_LIMITED',
  IAM_REFUSED: 'GW.IAM_REFUSED',
  IAM_UNAVAILABLE: 'GW.IAM_UNAVAILABLE',
  UPSTREAM_ERROR: 'GW.UPSTREAM_ERROR',
  UPSTREAM_UNAVAILABLE: 'GW.UPSTREAM_UNAVAILABLE',
  UPSTREAM_TIMEOUT: 'GW.UPSTREAM_TIMEOUT',
  AUDIT_UNAVAILABLE: 'GW.AUDIT_UNAVAILABLE',
  IDEMPOTENCY_KEY_REUSED: 'GW.IDEMPOTENCY_KEY_REUSED',
  IDEMPOTENCY_IN_PROGRESS: 'GW.IDEMPOTENCY_IN_PROGRESS',
  NOT_AN_APPROVER: 'GW.NOT_AN_APPROVER',
  SELF_APPROVAL: 'GW.SELF_APPROVAL',
  ALREADY_DECIDED: 'GW.ALREADY_DECIDED',
  REQUEST_CLOSED: 'GW.REQUEST_CLOSED',
  REQUEST_NOT_DUE: 'GW.REQUEST_NOT_DUE',
  REQUEST_CHANGED: 'GW.REQUEST_CHANGED',
  /** Background work whose claim ran too short to send a change safely; nothing was sent. */
  CLAIM_TOO_SHORT: 'GW.CLAIM_TOO_SHORT',
  INTERNAL: 'GW.INTERNAL',
} as const;

const graphqlCodeByStatus: Record<number, GraphqlErrorCode> = {
  400: 'BAD_USER_INPUT',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'BAD_USER_INPUT',
  415: 'BAD_USER_INPUT',
  422: 'BAD_USER_INPUT',
  429: 'RATE_LIMITED',
  502: 'UPSTREAM_ERROR',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

export function graphqlCodeForStatus(status: number): GraphqlErrorCode {
  return (
    graphqlCodeByStatus[status] ?? (status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT')
  );
}

export interface GatewayErrorOptions {
  /** Seconds a throttled caller should wait; sent as `Retry-After`. */
  retryAfterSeconds?: number;
  /** The audit row this failure was recorded in, when one was written. */
  auditId?: string;
  /** The request that produced this answer, when it is an earlier request's, replayed. */
  requestId?: string;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly graphqlCode: GraphqlErrorCode;
  readonly retryAfterSeconds?: number;
  readonly requestId?: string;
  readonly auditId?: string;

  constructor(
    readonly errorCode: string,
    readonly status: number,
    message: string,
    options: GatewayErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.graphqlCode = graphqlCodeForStatus(status);
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.auditId = options.auditId;
    this.requestId = options.requestId;
  }

  /**
   * This failure as recorded in the row `auditId`, as a copy: one error may be thrown to several
   * callers at once (a lookup that concurrent requests share), and each answers with its own row.
   */
  withAuditId(auditId: string): this {
    return Object.create(Object.getPrototypeOf(this) as object, {
      ...Object.getOwnPropertyDescriptors(this),
      // Read here: on some Node versions `stack` is an accessor bound to the original error.
      stack: { value: this.stack, writable: true, enumerable: false, configurable: true },
      auditId: { value: auditId, enumerable: true, writable: false, configurable: true },
    }) as this;
  }

  /** `field` is the name the caller used (REST snake_case or GraphQL camelCase). */
  static validation(field: string, rule: string): GatewayError {
    return new GatewayError(GwCode.VALIDATION, 400, `${field}: ${rule}`);
  }

  static unauthenticated(reason: string): GatewayError {
    return new GatewayError(GwCode.UNAUTHENTICATED, 401, reason);
  }

  static forbidden(reason: string): GatewayError {
    return new GatewayError(GwCode.FORBIDDEN, 403, reason);
  }

  static internal(cause?: unknown): GatewayError {
    return new GatewayError(GwCode.INTERNAL, 500, 'internal error', { cause });
  }
}
