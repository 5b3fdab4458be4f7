import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { GatewayMetrics } from '../../common/gateway-metrics.js';
import { iamConfig, type IamConfig } from './iam.config.js';
import type { IamToken } from './iam-token.js';
import { IamTokenCache } from './iam-token-cache.js';
import {
  IamTokenExchange,
  SERVICE_IDENTITY,
  type ServiceAccountLogins,
  type TokenSubject,
} from './iam-token-exchange.js';
import { SingleFlight } from '../../common/single-flight.js';
import { Tracing, type TraceSpan } from '../../tracing/tracing.js';

/** The attributes of the IAM token span: the project, and how the cache served the token. */
const IAM_TOKEN_ATTRIBUTES = {
  project: 'gateway.project_id',
  /** hit, miss, or shared (another call's exchange was already under way). */
  cache: 'gateway.iam.cache',
} as const;

/**
 * The IAM token for a (caller or the service identity, project): from the cache while it is fresh, else from one
 * exchange shared by every concurrent caller of the same key. Tokens close to their end are
 * still answered from the cache while one background exchange fetches the successor. In agency
 * mode the service account's own login is kept the same way, in the same cache.
 */
@Injectable()
export class IamTokenProvider {
  private readonly logger = new Logger(IamTokenProvider.name);
  private readonly exchanges = new SingleFlight<string, IamToken>();
  /** Whose token it is: in password and agency modes every caller gets the service account's. */
  private readonly tokenOwner: string | undefined;
  /** Whose token the service identity gets: in oidc mode the service account's own login. */
  private readonly serviceOwner: string | undefined;
  /** Agency mode: the service account's own tokens, from the same cache as every other. */
  private readonly serviceAccountLogins: ServiceAccountLogins | undefined;

  constructor(
    @Inject(iamConfig.KEY) private readonly config: IamConfig,
    private readonly exchange: IamTokenExchange,
    private readonly cache: IamTokenCache,
    private readonly clock: Clock,
    private readonly metrics: GatewayMetrics,
    private readonly tracing: Tracing,
  ) {
    switch (config.mode) {
      case 'oidc': {
        this.tokenOwner = undefined;
        const account = config.serviceAccount;
        // No principal id (`iss#sub`) is without a `#`, so this key is never a caller's.
        this.serviceOwner = account && `service:${account.domainName}/${account.userName}`;
        break;
      }
      case 'password':
        this.tokenOwner = `${config.serviceAccount.domainName}/${config.serviceAccount.userName}`;
        this.serviceOwner = this.tokenOwner;
        break;
      case 'agency': {
        this.tokenOwner = `${config.agency.domainName}/${config.agency.agencyName}`;
        this.serviceOwner = this.tokenOwner;
        const account = `${config.serviceAccount.domainName}/${config.serviceAccount.userName}`;
        const loginKey = (projectId: string) => `${config.mode}|login|${account}|${projectId}`;
        this.serviceAccountLogins = {
          tokenFor: (projectId) =>
            this.cachedToken(loginKey(projectId), projectId, () =>
              this.exchange.serviceAccountLogin(projectId),
            ),
          revoked: (token) => this.evictKey(loginKey(token.projectId), token),
        };
        break;
      }
    }
  }

  /**
   * `SERVICE_IDENTITY` asks for the gateway's own token, for background work; in oidc mode
   * that needs the optional service account (see hasServiceIdentity).
   */
  tokenFor(subject: TokenSubject, projectId: string): Promise<IamToken> {
    return this.cachedToken(this.keyFor(subject, projectId), projectId, () =>
      this.exchange.exchange(subject, projectId, this.serviceAccountLogins),
    );
  }

  /** After TaurusDB refused `failed`: drop it, unless a newer token has already replaced it. */
  evict(subject: TokenSubject, projectId: string, failed: IamToken): Promise<void> {
    return this.evictKey(this.keyFor(subject, projectId), failed);
  }

  private keyFor(subject: TokenSubject, projectId: string): string {
    const owner =
      subject === SERVICE_IDENTITY
        ? (this.serviceOwner ?? SERVICE_IDENTITY)
        : (this.tokenOwner ?? subject.id);
    return `${this.config.mode}|${owner}|${projectId}`;
  }

  private cachedToken(
    key: string,
    projectId: string,
    fetch: () => Promise<IamToken>,
  ): Promise<IamToken> {
    const attributes = { [IAM_TOKEN_ATTRIBUTES.project]: projectId };
    return this.tracing.inSpan('iam token', attributes, async (span) => {
      const cached = await this.cache.get(key);
      const nowMs = this.clock.nowMs();
      if (cached?.isUsableAt(nowMs)) {
        this.counted(span, 'hit');
        if (cached.isDueForRefreshAt(nowMs)) {
          this.refreshInBackground(key, projectId, fetch, cached);
        }
        return cached;
      }
      const { result, shared } = this.fetchAndStore(key, fetch, cached);
      this.counted(span, shared ? 'shared' : 'miss');
      return result;
    });
  }

  private counted(span: TraceSpan, result: 'hit' | 'miss' | 'shared'): void {
    this.metrics.iamTokenCache.inc({ result });
    span.setAttributes({ [IAM_TOKEN_ATTRIBUTES.cache]: result });
  }

  private async evictKey(key: string, failed: IamToken): Promise<void> {
    await this.cache.delete(key, failed);
    this.metrics.iamTokenCache.inc({ result: 'evict' });
  }

  /** Shared in this process first, then, through the cache, with the other replicas. */
  private fetchAndStore(
    key: string,
    fetch: () => Promise<IamToken>,
    replacing: IamToken | undefined,
  ): { result: Promise<IamToken>; shared: boolean } {
    return this.exchanges.run(key, () => this.cache.fill(key, fetch, replacing));
  }

  private refreshInBackground(
    key: string,
    projectId: string,
    fetch: () => Promise<IamToken>,
    replacing: IamToken,
  ): void {
    const { result, shared } = this.fetchAndStore(key, fetch, replacing);
    if (shared) {
      return;
    }
    this.metrics.iamTokenCache.inc({ result: 'refresh' });
    // The caller already has a usable token; a failed refresh is retried by the next call.
    result.catch((error: unknown) =>
      this.logger.warn(
        `Background refresh of the IAM token for project ${projectId} failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
      ),
    );
  }
}
