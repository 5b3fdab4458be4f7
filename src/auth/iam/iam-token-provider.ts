import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { GatewayMetrics } from '../../common/gateway-metrics.js';
import type { Principal } from '../principal.js';
import { iamConfig, type IamConfig } from './iam.config.js';
import type { IamToken } from './iam-token.js';
import { IamTokenCache } from './iam-token-cache.js';
import { IamTokenExchange } from './iam-token-exchange.js';
import { SingleFlight } from '../../common/single-flight.js';

/**
 * The IAM token for a (caller, project): from the cache while it is fresh, else from one
 * exchange shared by every concurrent caller of the same key. Tokens close to their end are
 * still answered from the cache while one background exchange fetches the successor.
 */
@Injectable()
export class IamTokenProvider {
  private readonly logger = new Logger(IamTokenProvider.name);
  private readonly exchanges = new SingleFlight<string, IamToken>();
  /** Whose token it is: in password and agency modes every caller gets the service account's. */
  private readonly tokenOwner: string | undefined;

  constructor(
    @Inject(iamConfig.KEY) private readonly config: IamConfig,
    private readonly exchange: IamTokenExchange,
    private readonly cache: IamTokenCache,
    private readonly clock: Clock,
    private readonly metrics: GatewayMetrics,
  ) {
    switch (config.mode) {
      case 'oidc':
        this.tokenOwner = undefined;
        break;
      case 'password':
        this.tokenOwner = `${config.serviceAccount.domainName}/${config.serviceAccount.userName}`;
        break;
      case 'agency':
        this.tokenOwner = `${config.agency.domainName}/${config.agency.agencyName}`;
        break;
    }
  }

  async tokenFor(principal: Principal, projectId: string): Promise<IamToken> {
    const key = this.keyFor(principal, projectId);
    const cached = await this.cache.get(key);
    const nowMs = this.clock.nowMs();
    if (cached?.isUsableAt(nowMs)) {
      this.metrics.iamTokenCache.inc({ result: 'hit' });
      if (cached.isDueForRefreshAt(nowMs)) {
        this.refreshInBackground(key, principal, projectId, cached);
      }
      return cached;
    }
    const { result, shared } = this.exchangeAndStore(key, principal, projectId, cached);
    this.metrics.iamTokenCache.inc({ result: shared ? 'shared' : 'miss' });
    return result;
  }

  /** After TaurusDB refused `failed`: drop it, unless a newer token has already replaced it. */
  async evict(principal: Principal, projectId: string, failed: IamToken): Promise<void> {
    await this.cache.delete(this.keyFor(principal, projectId), failed);
    this.metrics.iamTokenCache.inc({ result: 'evict' });
  }

  private keyFor(principal: Principal, projectId: string): string {
    return `${this.config.mode}|${this.tokenOwner ?? principal.id}|${projectId}`;
  }

  /** Shared in this process first, then, through the cache, with the other replicas. */
  private exchangeAndStore(
    key: string,
    principal: Principal,
    projectId: string,
    replacing: IamToken | undefined,
  ): { result: Promise<IamToken>; shared: boolean } {
    return this.exchanges.run(key, () =>
      this.cache.fill(key, () => this.exchange.exchange(principal, projectId), replacing),
    );
  }

  private refreshInBackground(
    key: string,
    principal: Principal,
    projectId: string,
    replacing: IamToken,
  ): void {
    const { result, shared } = this.exchangeAndStore(key, principal, projectId, replacing);
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
