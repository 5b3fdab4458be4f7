import { Pool } from 'undici';
import { toWellFormed } from './unicode-text.js';

/** The largest answer read from an upstream; a longer one is abandoned as it arrives. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * Errors raised before the request was handed to a connection, so it provably never left: no
 * connection could be made, the URL or arguments were refused, or the pool was already closed
 * (at shutdown; pools are only ever closed gracefully, which lets requests in flight finish).
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_INVALID_ARG',
  'ERR_INVALID_URL',
]);
/** The deadline's signal (AbortError, or undici's own name for it) or the pool's own timers. */
const TIMEOUT_CODES = new Set([
  'AbortError',
  'UND_ERR_ABORTED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Huawei's APIs document this form; it is plain JSON to any server. */
const JSON_BODY = 'application/json;charset=utf8';

export interface UpstreamRequest {
  method: 'GET' | 'PUT' | 'POST';
  url: string;
  /** Beyond `Accept` and, with a body, `Content-Type`: both JSON, set here. */
  headers: Record<string, string>;
  /** Sent as JSON text; a string is taken as JSON text already, sent byte for byte (signed bodies). */
  body?: object | string;
  /** Aborted when the call's deadline passes; the exchange is abandoned then. */
  signal: AbortSignal;
}

export interface UpstreamAnswer {
  status: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: unknown;
}

/** Why no answer came back. Holds nothing of the request, so nothing of its credentials. */
export type TransportFault =
  | { kind: 'timeout' }
  /** The answer was longer than MAX_ANSWER_BYTES. */
  | { kind: 'oversized' }
  /** Refused, DNS failure, reset. `requestSent` is false only when provably not. */
  | { kind: 'network'; code: string; requestSent: boolean };

export class TransportFailure extends Error {
  constructor(readonly fault: TransportFault) {
    super(`upstream exchange failed: ${fault.kind}`);
    this.name = 'TransportFailure';
  }
}

/**
 * HTTP to one kind of upstream (IAM, TaurusDB): a keep-alive undici Pool per origin, created on
 * first use. Connections are direct: a proxy from the environment would see the tokens. No
 * redirect is followed, since it would carry the token to another host; a 3xx is an answer
 * like any other.
 */
export class UpstreamHttp {
  private readonly pools = new Map<string, Pool>();

  /** The deadline's signal normally ends a slow exchange first; the pool never waits longer. */
  constructor(private readonly timeoutMs: number) {}

  /** One exchange, its answer read in full. Rejects only with TransportFailure. */
  async request(request: UpstreamRequest): Promise<UpstreamAnswer> {
    try {
      const url = new URL(request.url);
      const response = await this.poolFor(url.origin).request({
        method: request.method,
        path: `${url.pathname}${url.search}`,
        headers: {
          accept: 'application/json',
          ...(request.body === undefined ? {} : { 'content-type': JSON_BODY }),
          ...request.headers,
        },
        body: typeof request.body === 'object' ? JSON.stringify(request.body) : request.body,
        signal: request.signal,
      });
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, json: parseJson(text) };
    } catch (error) {
      // The error may hold the request, credentials included: only its code goes further.
      throw new TransportFailure(transportFault(error, request.signal.aborted));
    }
  }

  /** Lets exchanges in flight finish (each is bounded by its deadline), then closes. */
  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
  }

  private poolFor(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        maxResponseSize: MAX_ANSWER_BYTES,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}

/** The only way a lone surrogate arrives: UTF-8 decoding already replaced anything else. */
const ESCAPED_SURROGATE = /\\u[dD][89a-fA-F]/;
const wellFormedStrings = (_key: string, value: unknown): unknown =>
  typeof value === 'string' ? toWellFormed(value) : value;

/**
 * Upstream strings (tag values, `error_msg`) reach answers, logs and audit rows: lone surrogates
 * become U+FFFD here, once, so that no store and no hash ever meets one.
 */
function parseJson(text: string): unknown {
  try {
    return (
      ESCAPED_SURROGATE.test(text) ? JSON.parse(text, wellFormedStrings) : JSON.parse(text)
    ) as unknown;
  } catch {
    return undefined;
  }
}

function transportFault(error: unknown, deadlinePassed: boolean): TransportFault {
  const code = errorCode(error);
  if (deadlinePassed || TIMEOUT_CODES.has(code)) return { kind: 'timeout' };
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return { kind: 'oversized' };
  return { kind: 'network', code, requestSent: !NOT_SENT_CODES.has(code) };
}

/** Node's and undici's errors name the failure in `code`, or in their cause's; aborts by name. */
function errorCode(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  return (
    stringCode(error) ??
    stringCode(cause) ??
    (error instanceof Error && error.name === 'AbortError' ? error.name : 'UNKNOWN')
  );
}

function stringCode(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('code' in value)) return undefined;
  return typeof value.code === 'string' ? value.code : undefined;
}
