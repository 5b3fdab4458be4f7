import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import {
  type CircuitBreakerPolicy,
  ConsecutiveBreaker,
  DelegateBackoff,
  ExponentialBackoff,
  type IBackoff,
  type IRetryBackoffContext,
  type RetryPolicy,
  circuitBreaker,
  handleWhen,
  isBrokenCircuitError,
  isTaskCancelledError,
  retry,
} from 'cockatiel';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { INSTANCE_ID_RULE, PROJECT_ID_RULE, isInstanceId, isProjectId } from '../domain/ids.js';
import { TAG_FILTER_RULE, isTagFilter } from '../domain/tag-filter.js';
import { UpstreamAttempts } from '../common/upstream-attempt.js';
import {
  TransportFailure,
  type TransportFault,
  type UpstreamAnswer,
  type UpstreamRequest,
} from '../common/upstream-http.js';
import { upstreamConfig } from '../config/upstream.config.js';
import { Tracing } from '../tracing/tracing.js';
import { CallDeadline } from './call-deadline.js';
import { parseRetryAfterSeconds } from './retry-after.js';
import {
  parseInstanceDetails,
  parseInstancePage,
  parseSetVaultLockResult,
  parseVaultLockInfo,
} from './taurusdb-answers.js';
import { TaurusDbEndpoints } from './taurusdb-endpoints.js';
import { taurusdbConfig } from './taurusdb.config.js';
import {
  MAX_LIST_LIMIT,
  type InstanceDetails,
  type InstanceListQuery,
  type InstancePage,
  type SetVaultLockBody,
  type SetVaultLockResult,
  type VaultLockInfo,
} from './taurusdb.types.js';
import {
  UpstreamError,
  UpstreamFailure,
  type UpstreamOutcome,
  mapUpstreamFailure,
} from './upstream-error.js';

/** What the client needs of an IAM token: the token itself and the region its project is in. */
export interface UpstreamCredentials {
  token: string;
  region: string;
}

type Operation = 'getInstance' | 'listInstances' | 'getVaultLock' | 'setVaultLock' | 'ping';

interface UpstreamCall<T> {
  operation: Operation;
  method: 'GET' | 'PUT';
  /** Built from checked IDs only. */
  path: string;
  credentials: UpstreamCredentials;
  body?: SetVaultLockBody;
  requestId?: string;
  parse: (body: unknown) => T | undefined;
}

const MAX_ATTEMPTS = 3;
/** A longer Retry-After is passed on to the caller instead of being waited out here. */
const MAX_RETRY_AFTER_MS = 5000;
/** A retry is only sent if at least this much of the deadline is left for it. */
const MIN_ATTEMPT_MS = 100;
const RETRYABLE_READ_STATUSES = new Set([429, 502, 503, 504]);
const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/**
 * TaurusDB's HTTP API (DESIGN §1): keep-alive connections, one deadline per call, retried reads,
 * a circuit breaker per base URL, and every failure turned into an UpstreamError by
 * `mapUpstreamFailure`.
 */
@Injectable()
export class TaurusDbClient implements OnApplicationShutdown {
  private readonly logger = new Logger(TaurusDbClient.name);
  private readonly attempts: UpstreamAttempts;
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();
  private readonly backoff = new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 });

  constructor(
    private readonly endpoints: TaurusDbEndpoints,
    @Inject(taurusdbConfig.KEY) private readonly config: ConfigType<typeof taurusdbConfig>,
    @Inject(upstreamConfig.KEY) private readonly upstream: ConfigType<typeof upstreamConfig>,
    private readonly metrics: GatewayMetrics,
    private readonly clock: Clock,
    tracing: Tracing,
  ) {
    this.attempts = new UpstreamAttempts('taurusdb', upstream.timeoutMs, metrics, clock, tracing);
  }

  async getInstance(
    credentials: UpstreamCredentials,
    projectId: string,
    instanceId: string,
    requestId?: string,
  ): Promise<InstanceDetails> {
    checkIds(projectId, instanceId);
    const details = await this.call({
      operation: 'getInstance',
      method: 'GET',
      path: `/v3.1/${projectId}/instances/${instanceId}`,
      credentials,
      requestId,
      parse: parseInstanceDetails,
    });
    // The policy decides on these details: they must describe the instance that was asked for.
    if (details.id !== instanceId || (details.projectId ?? projectId) !== projectId) {
      this.logger.warn(
        `TaurusDB answered the details of instance ${instanceId} (project ${projectId}) with` +
          ` those of another instance or project; the call is refused`,
      );
      throw new UpstreamError(
        GwCode.UPSTREAM_ERROR,
        502,
        'TaurusDB answered with the details of another instance',
        { outcomeUncertain: false },
      );
    }
    return details;
  }

  async listInstances(
    credentials: UpstreamCredentials,
    projectId: string,
    query: InstanceListQuery,
    requestId?: string,
  ): Promise<InstancePage> {
    if (!isProjectId(projectId)) throw GatewayError.validation('project_id', PROJECT_ID_RULE);
    // Keys and values become one comma-separated list: the rule is checked where it is built.
    if (!query.tags.every(isTagFilter)) throw GatewayError.validation('tags', TAG_FILTER_RULE);
    const search = new URLSearchParams({
      offset: String(query.offset),
      limit: String(query.limit),
    });
    if (query.tags.length > 0) {
      search.set('tags', query.tags.map(({ key, value }) => `${key}=${value}`).join(','));
    }
    const page = await this.call({
      operation: 'listInstances',
      method: 'GET',
      path: `/v3.1/${projectId}/instances?${search.toString()}`,
      credentials,
      requestId,
      parse: parseInstancePage,
    });
    // Everything listed is then shown, decided on and read: it must belong to the project asked.
    if (
      page.instances.length > MAX_LIST_LIMIT ||
      page.instances.some((instance) => (instance.projectId ?? projectId) !== projectId)
    ) {
      this.logger.warn(
        `TaurusDB listed instances of another project, or more than a page, for project ${projectId}; the call is refused`,
      );
      throw new UpstreamError(
        GwCode.UPSTREAM_ERROR,
        502,
        'TaurusDB listed instances that are not in the project asked for',
        { outcomeUncertain: false },
      );
    }
    return page;
  }

  async getVaultLock(
    credentials: UpstreamCredentials,
    projectId: string,
    instanceId: string,
    requestId?: string,
  ): Promise<VaultLockInfo> {
    checkIds(projectId, instanceId);
    return this.call({
      operation: 'getVaultLock',
      method: 'GET',
      path: `/v3/${projectId}/instances/${instanceId}/backups/vault-lock`,
      credentials,
      requestId,
      parse: parseVaultLockInfo,
    });
  }

  async setVaultLock(
    credentials: UpstreamCredentials,
    projectId: string,
    instanceId: string,
    body: SetVaultLockBody,
    requestId?: string,
  ): Promise<SetVaultLockResult> {
    checkIds(projectId, instanceId);
    return this.call({
      operation: 'setVaultLock',
      method: 'PUT',
      path: `/v3/${projectId}/instances/${instanceId}/backups/vault-lock`,
      credentials,
      body,
      requestId,
      parse: parseSetVaultLockResult,
    });
  }

  /**
   * Readiness: any HTTP answer from the probe region's base URL means TaurusDB is reachable.
   * Goes around the breaker and retries so that it reports what is true right now.
   */
  async ping(): Promise<void> {
    const deadline = new CallDeadline(this.clock, this.upstream.timeoutMs);
    try {
      await this.send('ping', {
        method: 'GET',
        url: `${this.endpoints.probeBaseUrl()}/`,
        headers: {},
        signal: deadline.signal,
      });
    } catch (error) {
      throw asUpstreamError(error, false);
    } finally {
      deadline.clear();
    }
  }

  /** Once the HTTP server has closed, so that requests still in flight can finish their calls. */
  async onApplicationShutdown(): Promise<void> {
    await this.attempts.close();
  }

  private async call<T>(call: UpstreamCall<T>): Promise<T> {
    const baseUrl = this.endpoints.baseUrlFor(call.credentials.region);
    const breaker = this.breakerFor(baseUrl);
    const deadline = new CallDeadline(this.clock, this.upstream.timeoutMs);
    try {
      return await this.retryPolicy(call, deadline).execute(
        () => breaker.execute(() => this.attempt(call, baseUrl, deadline)),
        deadline.signal,
      );
    } catch (error) {
      if (isBrokenCircuitError(error)) {
        // Not sent, but operators should still see that calls are being turned away.
        this.attempts.countNotSent(call.operation, 'circuit-open');
      }
      throw asUpstreamError(error, call.method === 'PUT');
    } finally {
      deadline.clear();
    }
  }

  private async attempt<T>(
    call: UpstreamCall<T>,
    baseUrl: string,
    deadline: CallDeadline,
  ): Promise<T> {
    const headers: Record<string, string> = { 'X-Auth-Token': call.credentials.token };
    if (call.requestId !== undefined && REQUEST_ID_PATTERN.test(call.requestId)) {
      headers['X-Request-Id'] = call.requestId;
    }
    const answer = await this.send(call.operation, {
      method: call.method,
      url: `${baseUrl}${call.path}`,
      headers,
      body: call.body,
      signal: deadline.signal,
    });
    if (answer.status >= 200 && answer.status < 300) {
      const parsed = answer.json === undefined ? undefined : call.parse(answer.json);
      if (parsed === undefined) throw new UpstreamFailure({ kind: 'malformed' });
      return parsed;
    }
    throw new UpstreamFailure({
      kind: 'answered',
      status: answer.status,
      body: answer.json,
      retryAfterSeconds: parseRetryAfterSeconds(answer.headers['retry-after'], this.clock.nowMs()),
    });
  }

  /** One HTTP exchange; transport failures come out as UpstreamFailure. */
  private async send(operation: Operation, request: UpstreamRequest): Promise<UpstreamAnswer> {
    try {
      return await this.attempts.send(operation, request);
    } catch (error) {
      if (!(error instanceof TransportFailure)) throw error;
      throw new UpstreamFailure(transportOutcome(error.fault));
    }
  }

  /**
   * Reads are retried on network errors, throttling and gateway errors. The PUT is retried only
   * when the connection was refused: any later failure may come after TaurusDB applied the
   * change, and re-sending an irreversible lock blindly could enable it twice or extend a lock
   * someone else extended meanwhile; the use case records such an outcome as unknown instead.
   * A wait never runs past the call's deadline, and a Retry-After longer than that is passed on.
   */
  private retryPolicy(call: UpstreamCall<unknown>, deadline: CallDeadline): RetryPolicy {
    const retryable = call.method === 'GET' ? isRetryableRead : isRetryableWrite;
    const policy = retry(
      handleWhen(
        (error) =>
          error instanceof UpstreamFailure &&
          retryable(error.outcome) &&
          retryAfterMs(error.outcome) <= MAX_RETRY_AFTER_MS &&
          retryAfterMs(error.outcome) + MIN_ATTEMPT_MS < deadline.remainingMs(),
      ),
      {
        maxAttempts: MAX_ATTEMPTS - 1,
        backoff: new DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown>>(
          (context, previous) => {
            const step = previous ? previous.next(undefined) : this.backoff.next();
            const wanted = Math.max(step.duration, retryAfterMs(failureOutcome(context)));
            const delay = Math.min(wanted, deadline.remainingMs() - MIN_ATTEMPT_MS);
            return { delay: Math.max(0, delay), state: step };
          },
        ),
      },
    );
    policy.onRetry(({ delay, attempt }) =>
      this.logger.debug(
        `retrying ${call.operation} (attempt ${attempt + 1}) in ${Math.round(delay)} ms`,
      ),
    );
    return policy;
  }

  /** One breaker per base URL: one region's outage must not stop calls to the others. */
  private breakerFor(baseUrl: string): CircuitBreakerPolicy {
    const existing = this.breakers.get(baseUrl);
    if (existing) return existing;
    const breaker = circuitBreaker(
      handleWhen((error) => error instanceof UpstreamFailure && signalsOutage(error.outcome)),
      {
        halfOpenAfter: this.config.breakerHalfOpenMs,
        breaker: new ConsecutiveBreaker(this.config.breakerThreshold),
      },
    );
    breaker.onBreak(() =>
      this.logger.warn(
        `circuit to ${baseUrl} opened; calls answer 503 for ${this.config.breakerHalfOpenMs} ms`,
      ),
    );
    breaker.onReset(() => this.logger.log(`circuit to ${baseUrl} closed`));
    // cockatiel's CircuitState numbers are the gauge's: 0 closed, 1 open, 2 half-open.
    const state = this.metrics.circuitBreakerState.labels({ target: baseUrl });
    state.set(breaker.state);
    breaker.onStateChange((changed) => state.set(changed));
    this.breakers.set(baseUrl, breaker);
    return breaker;
  }
}

function checkIds(projectId: string, instanceId: string): void {
  if (!isProjectId(projectId)) throw GatewayError.validation('project_id', PROJECT_ID_RULE);
  if (!isInstanceId(instanceId)) throw GatewayError.validation('instance_id', INSTANCE_ID_RULE);
}

function transportOutcome(fault: TransportFault): UpstreamOutcome {
  switch (fault.kind) {
    case 'timeout':
      return { kind: 'timeout' };
    case 'oversized':
      return { kind: 'malformed' };
    case 'network':
      return { kind: 'unreachable', code: fault.code, requestSent: fault.requestSent };
  }
}

function asUpstreamError(error: unknown, mutating: boolean): UpstreamError {
  if (error instanceof UpstreamFailure) return mapUpstreamFailure(error.outcome, { mutating });
  if (isBrokenCircuitError(error))
    return mapUpstreamFailure({ kind: 'circuit-open' }, { mutating });
  // The breaker's half-open wait ends this way when the deadline passes meanwhile.
  if (isTaskCancelledError(error)) return mapUpstreamFailure({ kind: 'timeout' }, { mutating });
  throw error;
}

function isRetryableRead(outcome: UpstreamOutcome): boolean {
  return (
    outcome.kind === 'unreachable' ||
    (outcome.kind === 'answered' && RETRYABLE_READ_STATUSES.has(outcome.status))
  );
}

function isRetryableWrite(outcome: UpstreamOutcome): boolean {
  return outcome.kind === 'unreachable' && !outcome.requestSent;
}

/** Outcomes that say TaurusDB (or the way to it) is in trouble, as opposed to a refusal. */
function signalsOutage(outcome: UpstreamOutcome): boolean {
  return (
    outcome.kind === 'timeout' ||
    outcome.kind === 'unreachable' ||
    (outcome.kind === 'answered' && outcome.status >= 500)
  );
}

function retryAfterMs(outcome: UpstreamOutcome | undefined): number {
  return outcome?.kind === 'answered' && outcome.retryAfterSeconds !== undefined
    ? outcome.retryAfterSeconds * 1000
    : 0;
}

function failureOutcome(context: IRetryBackoffContext<unknown>): UpstreamOutcome | undefined {
  return 'error' in context.result && context.result.error instanceof UpstreamFailure
    ? context.result.error.outcome
    : undefined;
}
