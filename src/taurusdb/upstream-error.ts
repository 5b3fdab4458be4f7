import { boundedText } from '../common/bounded-text.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';

/**
 * What went wrong on one call to TaurusDB, before it is turned into an answer. Deliberately
 * free of the HTTP client's errors: those may carry the request headers, and so the IAM token.
 */
export type UpstreamOutcome =
  /** TaurusDB answered with a status other than 2xx; `body` is the parsed JSON, if it was JSON. */
  | { kind: 'answered'; status: number; body: unknown; retryAfterSeconds?: number }
  /** A 2xx answer that is not the documented JSON, or an answer over the size cap. */
  | { kind: 'malformed' }
  /** The call's deadline passed. */
  | { kind: 'timeout' }
  /** No answer: refused, DNS failure, reset. `requestSent` is false only when provably not. */
  | { kind: 'unreachable'; code: string; requestSent: boolean }
  /** The circuit for this base URL is open, so the call was not sent. */
  | { kind: 'circuit-open' };

/** Thrown inside the client between attempts, so retries and the breaker can look at it. */
export class UpstreamFailure extends Error {
  constructor(readonly outcome: UpstreamOutcome) {
    super(`TaurusDB call failed: ${outcome.kind}`);
    this.name = 'UpstreamFailure';
  }
}

export interface UpstreamErrorOptions {
  upstreamStatus?: number;
  outcomeUncertain: boolean;
  retryAfterSeconds?: number;
}

/** A GatewayError caused by TaurusDB, with what the audit row needs to know about it. */
export class UpstreamError extends GatewayError {
  readonly upstreamStatus?: number;
  /** True when a PUT may have been applied although no success answer arrived. */
  readonly outcomeUncertain: boolean;

  constructor(errorCode: string, status: number, message: string, options: UpstreamErrorOptions) {
    super(errorCode, status, message, { retryAfterSeconds: options.retryAfterSeconds });
    this.name = 'UpstreamError';
    this.upstreamStatus = options.upstreamStatus;
    this.outcomeUncertain = options.outcomeUncertain;
  }
}

/**
 * TaurusDB refused the IAM token (expired, or revoked after a permission change). The TaurusDb
 * port evicts the cached token and retries once with a fresh one.
 */
export class UpstreamUnauthorizedError extends UpstreamError {
  constructor() {
    super(GwCode.UPSTREAM_ERROR, 502, 'upstream refused the IAM token', {
      upstreamStatus: 401,
      outcomeUncertain: false,
    });
    this.name = 'UpstreamUnauthorizedError';
  }
}

interface DbsError {
  code: string;
  message: string;
}

/**
 * Codes TaurusDB (`DBS.200001`) and Huawei's API gateway in front of it (`APIGW.0308`) answer
 * with. Only these pass through to the caller: anything else, a `GW.*` code above all, would
 * let an upstream (or whatever answers in its place) speak with the gateway's own voice.
 */
const ERROR_CODE_PATTERN = /^(DBS\.\d{6}|APIGW\.\d{4})$/;

/**
 * Refusals that describe the caller's request or its target, and so are passed on with their
 * status. Any other 4xx (407, 426, 431, ...) is about the gateway's own call, or would make the
 * caller's HTTP client act on it, and becomes a 502.
 */
const PASSED_ON_STATUSES = new Set([400, 403, 404, 409, 410, 412, 422, 423]);

/** Longest upstream `error_msg` passed on; the rest of a longer one is cut. */
export const MAX_UPSTREAM_MESSAGE_CHARS = 512;

/**
 * Huawei's `{"error_code":"DBS.200001","error_msg":"..."}`, or undefined for any other body.
 * The message is capped and its control characters escaped here, the one place an upstream
 * error is read, because it is echoed to the caller and may end up in an audit row.
 */
function dbsError(body: unknown): DbsError | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { error_code: code, error_msg: message } = body as Record<string, unknown>;
  if (typeof code !== 'string' || !ERROR_CODE_PATTERN.test(code)) return undefined;
  return {
    code,
    message:
      typeof message === 'string' && message !== ''
        ? boundedText(message, MAX_UPSTREAM_MESSAGE_CHARS)
        : `TaurusDB answered ${code}`,
  };
}

/**
 * The one table from upstream outcomes to gateway answers:
 *
 * | upstream                               | gateway                                          |
 * |----------------------------------------|--------------------------------------------------|
 * | 401                                    | UpstreamUnauthorizedError (502 GW.UPSTREAM_ERROR) |
 * | 429                                    | 429, upstream code or GW.RATE_LIMITED, Retry-After |
 * | a passed-on 4xx with a DBS/APIGW code  | same status and code, error_msg capped, cleaned  |
 * | a passed-on 4xx without one            | same status, GW.UPSTREAM_ERROR                   |
 * | other 4xx, 5xx, 1xx/3xx (no redirects) | 502 GW.UPSTREAM_ERROR                            |
 * | malformed or oversized answer          | 502 GW.UPSTREAM_ERROR                            |
 * | deadline passed                        | 504 GW.UPSTREAM_TIMEOUT                          |
 * | refused, DNS, reset, circuit open      | 503 GW.UPSTREAM_UNAVAILABLE                      |
 *
 * For a call that changes state (`mutating`), the outcome is uncertain whenever the request may
 * have reached TaurusDB and no verdict came back: deadline, reset after sending, a malformed
 * answer, and a 502/504 without TaurusDB's own `DBS.*` error (a proxy in between, Huawei's API
 * gateway among them, gave up waiting).
 */
export function mapUpstreamFailure(
  outcome: UpstreamOutcome,
  call: { mutating: boolean },
): UpstreamError {
  switch (outcome.kind) {
    case 'answered':
      return mapAnswer(outcome.status, outcome.body, outcome.retryAfterSeconds, call.mutating);
    case 'malformed':
      return new UpstreamError(
        GwCode.UPSTREAM_ERROR,
        502,
        'TaurusDB sent an answer that is not the documented JSON',
        { outcomeUncertain: call.mutating },
      );
    case 'timeout':
      return new UpstreamError(GwCode.UPSTREAM_TIMEOUT, 504, 'TaurusDB did not answer in time', {
        outcomeUncertain: call.mutating,
      });
    case 'unreachable':
      return new UpstreamError(GwCode.UPSTREAM_UNAVAILABLE, 503, 'TaurusDB is unreachable', {
        outcomeUncertain: call.mutating && outcome.requestSent,
      });
    case 'circuit-open':
      return new UpstreamError(
        GwCode.UPSTREAM_UNAVAILABLE,
        503,
        'TaurusDB is failing; calls to it are paused for a short while',
        { outcomeUncertain: false },
      );
  }
}

function mapAnswer(
  status: number,
  body: unknown,
  retryAfterSeconds: number | undefined,
  mutating: boolean,
): UpstreamError {
  if (status === 401) return new UpstreamUnauthorizedError();
  const dbs = dbsError(body);
  if (status === 429) {
    return new UpstreamError(
      dbs?.code ?? GwCode.RATE_LIMITED,
      429,
      dbs?.message ?? 'TaurusDB is throttling requests',
      { upstreamStatus: status, outcomeUncertain: false, retryAfterSeconds },
    );
  }
  if (PASSED_ON_STATUSES.has(status)) {
    return new UpstreamError(
      dbs?.code ?? GwCode.UPSTREAM_ERROR,
      status,
      dbs?.message ?? `TaurusDB answered ${status}`,
      { upstreamStatus: status, outcomeUncertain: false },
    );
  }
  // Only TaurusDB's own verdict settles a 502/504: Huawei's API gateway answers its own codes
  // (APIGW.0202 backend unavailable, APIGW.0203 backend timeout) after the PUT may have landed.
  const verdict = dbs?.code.startsWith('DBS.') === true;
  const proxyGaveUp = !verdict && (status === 502 || status === 504);
  return new UpstreamError(
    GwCode.UPSTREAM_ERROR,
    502,
    `TaurusDB answered ${status}${dbs ? ` (${dbs.code})` : ''}`,
    { upstreamStatus: status, outcomeUncertain: mutating && proxyGaveUp },
  );
}
