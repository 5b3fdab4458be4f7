import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import canonicalize from 'canonicalize';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { toGatewayError } from '../common/to-gateway-error.js';
import { IdempotencyStore, type IdempotencyTimes, type StoredAnswer } from './idempotency-store.js';

export const IDEMPOTENCY_TIMES = Symbol('IDEMPOTENCY_TIMES');

/** One call made under an idempotency key. */
export interface IdempotentRequest {
  /** `iss#sub`: keys are the caller's own. */
  principalId: string;
  key: string;
  /** How the caller named the key (`Idempotency-Key`, `idempotencyKey`), for error messages. */
  keyName: string;
  /** This request's own id: a stored error answer names it. */
  requestId: string;
  /** What makes two requests the same request, whichever channel sent them. */
  fingerprint: Record<string, unknown>;
  /** A failure that settles the request is stored and replayed; any other lets the key go. */
  settles: (error: GatewayError, thrown: unknown) => boolean;
  /** Told just before a stored answer is replayed. */
  onReplay: () => void;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * Runs a call at most once per principal and key: the first claims the key and stores its
 * answer; the same request again gets that answer back without running; another request under
 * the key, or any request while the first still runs, is refused. Both channels go through here.
 */
@Injectable()
export class IdempotentCalls {
  constructor(
    private readonly store: IdempotencyStore,
    @Inject(IDEMPOTENCY_TIMES) private readonly times: IdempotencyTimes,
    private readonly metrics: GatewayMetrics,
  ) {}

  async run<T>(request: IdempotentRequest, call: () => Promise<T>): Promise<T> {
    // Hashed: the store (Redis) shows neither who called nor the key they chose.
    const key = digest(JSON.stringify([request.principalId, request.key]));
    const fingerprint = digest(canonicalize(request.fingerprint) ?? '');
    const held = await this.store.claim(key, fingerprint);
    if (held.kind !== 'claimed' && held.fingerprint !== fingerprint) {
      throw new GatewayError(
        GwCode.IDEMPOTENCY_KEY_REUSED,
        422,
        `${request.keyName}: already used by this caller for a different request in the last 24 h; use a new key`,
      );
    }
    if (held.kind === 'in-progress') {
      throw new GatewayError(
        GwCode.IDEMPOTENCY_IN_PROGRESS,
        409,
        `${request.keyName}: the first request with this key is still running; retry once it has answered`,
        { retryAfterSeconds: 1 },
      );
    }
    if (held.kind === 'done') {
      this.metrics.idempotentReplays.inc();
      request.onReplay();
      return replay<T>(held.answer);
    }

    const { claim } = held;
    // Renewed while the call runs; a replica that dies stops renewing and its claim lapses.
    const renewal = setInterval(() => void claim.renew(), this.times.leaseMs / 3);
    renewal.unref();
    try {
      const value = await call();
      await claim.complete({ kind: 'result', value: JSON.parse(JSON.stringify(value)) as unknown });
      return value;
    } catch (thrown) {
      const error = toGatewayError(thrown);
      if (request.settles(error, thrown)) {
        await claim.complete({
          kind: 'error',
          errorCode: error.errorCode,
          status: error.status,
          message: error.message,
          requestId: error.requestId ?? request.requestId,
          auditId: error.auditId,
        });
      } else {
        await claim.release();
      }
      throw thrown;
    } finally {
      clearInterval(renewal);
    }
  }
}

function replay<T>(answer: StoredAnswer): T {
  if (answer.kind === 'result') return answer.value as T;
  throw new GatewayError(answer.errorCode, answer.status, answer.message, {
    auditId: answer.auditId,
    requestId: answer.requestId,
  });
}
