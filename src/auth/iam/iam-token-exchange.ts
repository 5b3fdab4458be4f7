import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import {
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  handleWhen,
  retry,
  timeout,
  wrap,
} from 'cockatiel';
import { Clock } from '../../common/clock.js';
import { GatewayError, GwCode } from '../../common/gateway-error.js';
import { GatewayMetrics } from '../../common/gateway-metrics.js';
import { UpstreamAttempts } from '../../common/upstream-attempt.js';
import {
  TransportFailure,
  type TransportFault,
  type UpstreamAnswer,
} from '../../common/upstream-http.js';
import { upstreamConfig, type UpstreamConfig } from '../../config/upstream.config.js';
import { Tracing } from '../../tracing/tracing.js';
import type { Principal } from '../../domain/principal.js';
import { iamConfig, type IamConfig, type ServiceAccount } from './iam.config.js';
import { IamToken } from './iam-token.js';

type IamOperation = 'oidc' | 'password' | 'assumeRole' | 'serviceAccountLogin' | 'ping';
type FailureKind = 'refused' | 'unavailable' | 'timeout' | 'unexpected';

interface IamRequest {
  method: 'GET' | 'POST';
  /** Under the IAM endpoint. */
  path: string;
  body?: object;
  headers?: Record<string, string>;
}

/** Why one IAM call failed, before it becomes a GatewayError. Carries no request data. */
class IamCallFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly status?: number,
  ) {
    super(status === undefined ? kind : `${kind} (HTTP ${status})`);
  }
}

/**
 * Agency mode: the service account's own token for a project. It is kept where every other
 * IAM token is kept (IamTokenProvider's cache), not by the exchange.
 */
export interface ServiceAccountLogins {
  tokenFor(projectId: string): Promise<IamToken>;
  /** IAM refused `token` (revoked): it must not be reused for the next caller. */
  revoked(token: IamToken): Promise<void>;
}

/** The gateway itself, for work no caller is waiting on (DESIGN §6: background execution). */
export const SERVICE_IDENTITY = 'service';

/** Whose IAM token: a caller's, or the gateway's own. */
export type TokenSubject = Principal | typeof SERVICE_IDENTITY;

/** Throttling and server errors may pass; any other 4xx is IAM's considered answer. */
const isRetryableStatus = (status: number): boolean => status === 429 || status >= 500;

const RETRIES = 2;
/** An answer too long to be a token is IAM answering wrongly, not IAM being away. */
const FAILURE_KIND_OF_FAULT: Record<TransportFault['kind'], FailureKind> = {
  timeout: 'timeout',
  oversized: 'unexpected',
  network: 'unavailable',
};
const projectScope = (projectId: string) => ({ project: { id: projectId } });

/**
 * Swaps a caller (or the service account) for a project-scoped Huawei Cloud IAM token, one
 * logical exchange per call (DESIGN §1, IAM table). Every IAM call is bounded by the upstream
 * deadline, retries included.
 */
@Injectable()
export class IamTokenExchange implements OnApplicationShutdown {
  private readonly logger = new Logger(IamTokenExchange.name);
  private readonly attempts: UpstreamAttempts;
  private readonly deadlineMs: number;
  private readonly policy;

  constructor(
    @Inject(iamConfig.KEY) private readonly config: IamConfig,
    @Inject(upstreamConfig.KEY) upstream: UpstreamConfig,
    clock: Clock,
    private readonly metrics: GatewayMetrics,
    tracing: Tracing,
  ) {
    this.deadlineMs = upstream.timeoutMs;
    this.attempts = new UpstreamAttempts('iam', this.deadlineMs, metrics, clock, tracing);
    this.policy = wrap(
      timeout(this.deadlineMs, TimeoutStrategy.Aggressive),
      retry(
        handleWhen((error) => error instanceof IamCallFailure && error.kind === 'unavailable'),
        { maxAttempts: RETRIES, backoff: new ExponentialBackoff({ initialDelay: 50 }) },
      ),
    );
  }

  /**
   * `logins` is where agency mode gets the service account's own token; other modes need none.
   * The service identity is what every caller gets in password and agency modes; in oidc mode
   * it is the optional service account's password login.
   */
  async exchange(
    subject: TokenSubject,
    projectId: string,
    logins?: ServiceAccountLogins,
  ): Promise<IamToken> {
    const mode = this.config.mode;
    try {
      const token = await this.exchangeFor(subject, projectId, logins);
      this.metrics.iamExchanges.inc({ mode, outcome: 'ok' });
      return token;
    } catch (error) {
      const failure = this.toGatewayError(error, `the token exchange for project ${projectId}`);
      this.metrics.iamExchanges.inc({ mode, outcome: failureKindOf(error) ?? 'error' });
      this.logger.warn(`IAM ${mode} token exchange failed: ${failure.message}`);
      throw failure;
    }
  }

  /** Resolves when IAM answers at all (any HTTP status); throws when it cannot be reached. */
  async ping(): Promise<void> {
    try {
      await this.attempt(
        'ping',
        { method: 'GET', path: '/v3' },
        AbortSignal.timeout(this.deadlineMs),
      );
    } catch (error) {
      throw this.toGatewayError(error, 'a reachability check');
    }
  }

  /** Once the HTTP server has closed, so that requests still in flight can finish their calls. */
  async onApplicationShutdown(): Promise<void> {
    await this.attempts.close();
  }

  /**
   * Agency mode: the service account logs itself in, scoped to the project. Meant to be called
   * from `ServiceAccountLogins.tokenFor` during `exchange`, which turns its failure into the
   * caller's answer.
   */
  async serviceAccountLogin(projectId: string): Promise<IamToken> {
    if (this.config.mode !== 'agency') {
      throw new Error(`the service account logs itself in only in agency mode`);
    }
    return this.passwordLogin('serviceAccountLogin', this.config.serviceAccount, projectId);
  }

  private async exchangeFor(
    subject: TokenSubject,
    projectId: string,
    logins: ServiceAccountLogins | undefined,
  ): Promise<IamToken> {
    const scope = projectScope(projectId);
    switch (this.config.mode) {
      case 'oidc': {
        if (subject === SERVICE_IDENTITY) {
          const account = this.config.serviceAccount;
          if (account === undefined) {
            throw new Error(
              'no service identity in oidc mode: set IAM_DOMAIN_NAME, IAM_USER_NAME and IAM_PASSWORD',
            );
          }
          return this.passwordLogin('serviceAccountLogin', account, projectId);
        }
        const body = { auth: { id_token: { id: subject.rawToken() }, scope } };
        const headers = { 'X-Idp-Id': this.config.idpId };
        const response = await this.call('oidc', {
          method: 'POST',
          path: '/v3.0/OS-AUTH/id-token/tokens',
          body,
          headers,
        });
        return projectTokenFrom(response, projectId);
      }
      case 'password':
        return this.passwordLogin('password', this.config.serviceAccount, projectId);
      case 'agency': {
        if (logins === undefined) {
          throw new Error('an agency exchange needs the service account login');
        }
        const { agency } = this.config;
        const login = await logins.tokenFor(projectId);
        const body = {
          auth: {
            identity: {
              methods: ['assume_role'],
              assume_role: { domain_name: agency.domainName, agency_name: agency.agencyName },
            },
            scope,
          },
        };
        try {
          const response = await this.call('assumeRole', {
            method: 'POST',
            path: '/v3/auth/tokens',
            body,
            headers: { 'X-Auth-Token': login.value() },
          });
          return projectTokenFrom(response, projectId);
        } catch (error) {
          // A revoked service account token must not be reused for the next caller.
          if (error instanceof IamCallFailure && error.status === 401) {
            await logins.revoked(login);
          }
          throw error;
        }
      }
    }
  }

  private async passwordLogin(
    operation: 'password' | 'serviceAccountLogin',
    account: ServiceAccount,
    projectId: string,
  ): Promise<IamToken> {
    const response = await this.call(operation, {
      method: 'POST',
      path: '/v3/auth/tokens',
      body: passwordAuth(account, projectId),
    });
    return projectTokenFrom(response, projectId);
  }

  /** One IAM token call: retried on throttling, 5xx and network errors, within the deadline. */
  private async call(operation: IamOperation, request: IamRequest): Promise<UpstreamAnswer> {
    return this.policy.execute(async ({ signal }) => {
      const response = await this.attempt(operation, request, signal);
      if (response.status >= 200 && response.status < 300) {
        return response;
      }
      if (isRetryableStatus(response.status)) {
        throw new IamCallFailure('unavailable', response.status);
      }
      if (response.status >= 400 && response.status < 500) {
        throw new IamCallFailure('refused', response.status);
      }
      throw new IamCallFailure('unexpected', response.status);
    });
  }

  /** One HTTP request to IAM. Network failures become IamCallFailure. */
  private async attempt(
    operation: IamOperation,
    request: IamRequest,
    signal: AbortSignal,
  ): Promise<UpstreamAnswer> {
    try {
      return await this.attempts.send(operation, {
        method: request.method,
        url: `${this.config.endpoint}${request.path}`,
        headers: request.headers ?? {},
        body: request.body,
        signal,
      });
    } catch (error) {
      if (!(error instanceof TransportFailure)) throw error;
      throw new IamCallFailure(FAILURE_KIND_OF_FAULT[error.fault.kind]);
    }
  }

  private toGatewayError(error: unknown, what: string): GatewayError {
    if (error instanceof GatewayError) {
      return error;
    }
    switch (failureKindOf(error)) {
      case 'refused':
        return new GatewayError(GwCode.IAM_REFUSED, 403, `IAM refused ${what}`);
      case 'unavailable':
        return new GatewayError(GwCode.IAM_UNAVAILABLE, 503, `IAM is unavailable for ${what}`);
      case 'timeout':
        return new GatewayError(
          GwCode.UPSTREAM_TIMEOUT,
          504,
          `IAM did not answer ${what} within ${this.deadlineMs} ms`,
        );
      case 'unexpected':
        return new GatewayError(
          GwCode.UPSTREAM_ERROR,
          502,
          `IAM answered ${what} with an unexpected response`,
        );
      default:
        return GatewayError.internal();
    }
  }
}

function failureKindOf(error: unknown): FailureKind | undefined {
  // Not cockatiel's isTaskCancelledError: in 3.2 it tests for the bulkhead error's marker.
  if (error instanceof TaskCancelledError) {
    return 'timeout';
  }
  return error instanceof IamCallFailure ? error.kind : undefined;
}

function passwordAuth(account: ServiceAccount, projectId: string): object {
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: {
          user: {
            name: account.userName,
            password: account.password(),
            domain: { name: account.domainName },
          },
        },
      },
      scope: projectScope(projectId),
    },
  };
}

interface TokenBody {
  expires_at?: unknown;
  issued_at?: unknown;
  project?: { id?: unknown; name?: unknown };
}

function dateOf(text: unknown, status: number): Date {
  const date = typeof text === 'string' ? new Date(text) : new Date(NaN);
  if (Number.isNaN(date.getTime())) {
    throw new IamCallFailure('unexpected', status);
  }
  return date;
}

function projectTokenFrom(response: UpstreamAnswer, projectId: string): IamToken {
  const value: unknown = response.headers['x-subject-token'];
  const body = (response.json as { token?: TokenBody } | undefined)?.token;
  const project = body?.project;
  // A token for another project would send the caller's request to the wrong region.
  if (
    typeof value !== 'string' ||
    value === '' ||
    project?.id !== projectId ||
    typeof project.name !== 'string' ||
    project.name === ''
  ) {
    throw new IamCallFailure('unexpected', response.status);
  }
  return new IamToken(
    value,
    projectId,
    project.name,
    dateOf(body?.issued_at, response.status),
    dateOf(body?.expires_at, response.status),
  );
}
