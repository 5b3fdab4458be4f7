import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse, type HeaderObject, type HeadersObject } from '@nestjs/swagger';
import { GwCode } from './gateway-error.js';

/** The REST error body of DESIGN §2: what the filter sends and what the OpenAPI document shows. */
export class ErrorBody {
  @ApiProperty({
    description:
      "The gateway's own codes start with GW.; TaurusDB's refusals keep their DBS.* code",
    example: GwCode.VALIDATION,
  })
  error_code!: string;

  @ApiProperty({
    description:
      'For bad input, names the field and the rule; never a secret or an internal detail',
    example: 'backup_vaultlock_info.lock_retention_days: must be an integer from 1 to 36500',
  })
  error_msg!: string;

  @ApiProperty({
    description:
      "The gateway's own id for this call, as in its audit row and logs; the X-Request-Id header echoes the caller's id instead when it sent a sane one",
    format: 'uuid',
  })
  request_id!: string;
}

/** One way a route can fail: the status and error code it answers, and when. */
export interface ErrorCase {
  status: number;
  /** A gateway code, or `DBS.*` for TaurusDB's own refusals, passed on as they came. */
  errorCode: string;
  when: string;
}

/** Every failure the REST routes document, named once; each route lists the ones it can answer. */
export const ErrorCases = {
  invalidInput: {
    status: 400,
    errorCode: GwCode.VALIDATION,
    when: 'a path, query or body field breaks a rule, or is unknown; the message names the field and the rule',
  },
  unauthenticated: {
    status: 401,
    errorCode: GwCode.UNAUTHENTICATED,
    when: 'the bearer token is missing, malformed, expired, or not signed by the internal issuer',
  },
  notAuditor: {
    status: 403,
    errorCode: GwCode.FORBIDDEN,
    when: 'the caller is not in the auditor group (AUDITOR_GROUP)',
  },
  policyDenied: {
    status: 403,
    errorCode: GwCode.POLICY_DENIED,
    when: 'no policy rule allows this caller, instance and action; the message gives each rule its reason',
  },
  iamRefused: {
    status: 403,
    errorCode: GwCode.IAM_REFUSED,
    when: "IAM refused to exchange the caller's token for one scoped to the project",
  },
  upstreamRefused: {
    status: 400,
    errorCode: 'DBS.*',
    when: 'TaurusDB refused the parameters (its own error_code and error_msg, e.g. DBS.200001)',
  },
  upstreamForbidden: {
    status: 403,
    errorCode: 'DBS.*',
    when: 'TaurusDB says the IAM identity is not authorised for this call',
  },
  instanceNotFound: {
    status: 404,
    errorCode: 'DBS.*',
    when: 'TaurusDB has no such instance in this project',
  },
  operationInProgress: {
    status: 409,
    errorCode: 'DBS.*',
    when: 'TaurusDB is running another operation on the instance (DBS.200019, DBS.212033)',
  },
  bodyTooLarge: {
    status: 413,
    errorCode: GwCode.PAYLOAD_TOO_LARGE,
    when: 'the body is over 16 KB',
  },
  notJson: {
    status: 415,
    errorCode: GwCode.VALIDATION,
    when: 'the body is not application/json',
  },
  idempotencyInProgress: {
    status: 409,
    errorCode: GwCode.IDEMPOTENCY_IN_PROGRESS,
    when: 'the first request with this Idempotency-Key is still running; retry after Retry-After seconds',
  },
  idempotencyKeyReused: {
    status: 422,
    errorCode: GwCode.IDEMPOTENCY_KEY_REUSED,
    when: 'this caller used this Idempotency-Key for a different request in the last 24 h',
  },
  upstreamThrottled: {
    status: 429,
    errorCode: `${GwCode.RATE_LIMITED} or DBS.*`,
    when: 'TaurusDB is throttling calls; try again after Retry-After seconds',
  },
  internal: {
    status: 500,
    errorCode: GwCode.INTERNAL,
    when: 'an unexpected failure; the message says no more',
  },
  upstreamFailed: {
    status: 502,
    errorCode: GwCode.UPSTREAM_ERROR,
    when: 'TaurusDB failed (5xx), sent an answer that is not the documented JSON, or refused a fresh IAM token too',
  },
  tokenKeysUnavailable: {
    status: 503,
    errorCode: GwCode.UPSTREAM_UNAVAILABLE,
    when: "the internal issuer's JWKS cannot be fetched, so no token can be verified",
  },
  upstreamUnavailable: {
    status: 503,
    errorCode: GwCode.UPSTREAM_UNAVAILABLE,
    when: 'TaurusDB cannot be reached, or calls to it are paused after repeated failures',
  },
  iamUnavailable: {
    status: 503,
    errorCode: GwCode.IAM_UNAVAILABLE,
    when: 'IAM cannot be reached',
  },
  auditUnavailable: {
    status: 503,
    errorCode: GwCode.AUDIT_UNAVAILABLE,
    when: 'the audit trail cannot be written or read; a mutation is then never sent to TaurusDB',
  },
  upstreamTimeout: {
    status: 504,
    errorCode: GwCode.UPSTREAM_TIMEOUT,
    when: 'TaurusDB or IAM did not answer within UPSTREAM_TIMEOUT_MS',
  },
  notAnApprover: {
    status: 403,
    errorCode: GwCode.NOT_AN_APPROVER,
    when: "the caller is in none of the request's approver groups (or, to cancel, is neither an approver nor the requester)",
  },
  selfApproval: {
    status: 403,
    errorCode: GwCode.SELF_APPROVAL,
    when: 'the requester tried to approve or deny their own request',
  },
  notAllLockRequests: {
    status: 403,
    errorCode: GwCode.FORBIDDEN,
    when: 'listing without mine or awaiting_my_approval needs the auditor group (AUDITOR_GROUP)',
  },
  lockRequestNotFound: {
    status: 404,
    errorCode: GwCode.NOT_FOUND,
    when: 'no lock request has this id, or the caller is not its requester, one of its approvers or an auditor',
  },
  bulkJobNotFound: {
    status: 404,
    errorCode: GwCode.NOT_FOUND,
    when: 'no bulk job has this id, or the caller is neither its creator nor an auditor',
  },
  alreadyDecided: {
    status: 409,
    errorCode: GwCode.ALREADY_DECIDED,
    when: 'this approver already approved or denied the request; each approver counts once',
  },
  requestClosed: {
    status: 409,
    errorCode: GwCode.REQUEST_CLOSED,
    when: 'the request has ended, is executing, is past its deadline, or (to approve) no longer awaits approval',
  },
  requestChanged: {
    status: 409,
    errorCode: GwCode.REQUEST_CHANGED,
    when: 'the request kept changing under concurrent transitions; read it again and retry',
  },
} as const satisfies Record<string, ErrorCase>;

/** What every route that needs a token can answer before its own work starts. */
export const AUTHENTICATED_ROUTE_ERRORS: readonly ErrorCase[] = [
  ErrorCases.invalidInput,
  ErrorCases.unauthenticated,
  ErrorCases.internal,
  ErrorCases.tokenKeysUnavailable,
];

/** What a route that calls TaurusDB on the caller's behalf can answer besides. */
export const UPSTREAM_CALL_ERRORS: readonly ErrorCase[] = [
  ErrorCases.policyDenied,
  ErrorCases.iamRefused,
  ErrorCases.upstreamRefused,
  ErrorCases.upstreamForbidden,
  ErrorCases.instanceNotFound,
  ErrorCases.operationInProgress,
  ErrorCases.upstreamThrottled,
  ErrorCases.upstreamFailed,
  ErrorCases.upstreamUnavailable,
  ErrorCases.iamUnavailable,
  ErrorCases.upstreamTimeout,
];

/** The response headers, defined once in the document's components and referred to by name. */
export const ANSWER_HEADERS: Record<string, HeaderObject> = {
  'X-Request-Id': {
    description:
      "The caller's X-Request-Id when it is 8-128 characters of [A-Za-z0-9._:-], else the gateway's own id for the call (the error body's request_id)",
    schema: { type: 'string' },
  },
  'X-Audit-Id': {
    description:
      'The audit row of this attempt; absent when the request was refused before one was written (bad input, no valid token)',
    schema: { type: 'string', format: 'uuid' },
  },
  'Retry-After': {
    description: 'Seconds to wait before trying again',
    schema: { type: 'integer' },
  },
  Location: {
    description: 'Where the lock request that stands in for the change can be read',
    schema: { type: 'string' },
  },
  'Idempotent-Replayed': {
    description:
      "true when this is the stored answer of an earlier request with the same Idempotency-Key (its body and X-Audit-Id are that request's); absent otherwise",
    schema: { type: 'string', enum: ['true'] },
  },
};

export interface AnswerHeaderOptions {
  /** The route writes an audit row and names it in `X-Audit-Id`. */
  auditId?: boolean;
  retryAfter?: boolean;
  /** The route takes an Idempotency-Key and may answer with a replay. */
  replayed?: boolean;
  /** The answer names a lock request it made. */
  location?: boolean;
}

/** The headers an answer carries: always `X-Request-Id`, and the others the route says. */
export function answerHeaders(options: AnswerHeaderOptions = {}): HeadersObject {
  const names = [
    'X-Request-Id',
    ...(options.auditId ? ['X-Audit-Id'] : []),
    ...(options.retryAfter ? ['Retry-After'] : []),
    ...(options.replayed ? ['Idempotent-Replayed'] : []),
    ...(options.location ? ['Location'] : []),
  ];
  return Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));
}

/**
 * Documents the error answers of a route: one response per status, in the shared error body,
 * listing each error code the route can answer with that status and when.
 */
export function ApiErrorResponses(
  cases: readonly ErrorCase[],
  headers: Pick<AnswerHeaderOptions, 'auditId' | 'replayed'> = {},
): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, ErrorCase[]>();
  for (const errorCase of cases) {
    byStatus.set(errorCase.status, [...(byStatus.get(errorCase.status) ?? []), errorCase]);
  }
  return applyDecorators(
    ...[...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, sameStatus]) =>
        ApiResponse({
          status,
          type: ErrorBody,
          description: sameStatus.map((c) => `${c.errorCode}: ${c.when}.`).join('\n\n'),
          headers: answerHeaders({
            ...headers,
            retryAfter: status === 429 || sameStatus.includes(ErrorCases.idempotencyInProgress),
          }),
        }),
      ),
  );
}
