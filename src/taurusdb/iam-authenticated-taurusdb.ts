import { Injectable } from '@nestjs/common';
import { SERVICE_IDENTITY, type TokenSubject } from '../auth/iam/iam-token-exchange.js';
import { IamTokenProvider } from '../auth/iam/iam-token-provider.js';
import type { IamToken } from '../auth/iam/iam-token.js';
import { InstanceDetailsCache } from './instance-details-cache.js';
import { TaurusDbClient, type UpstreamCredentials } from './taurusdb-client.js';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import {
  TaurusDb,
  type InstanceRef,
  type LockChange,
  type SendDeadline,
  type TaurusDbCaller,
} from './taurusdb.js';
import type {
  InstanceDetails,
  InstanceListQuery,
  InstancePage,
  SetVaultLockResult,
  VaultLockInfo,
} from './taurusdb.types.js';
import { UpstreamUnauthorizedError } from './upstream-error.js';

/**
 * TaurusDB called with the IAM token of the caller (or of the service account, by IAM mode),
 * or with the gateway's own service identity when the caller asks for it.
 */
@Injectable()
export class IamAuthenticatedTaurusDb extends TaurusDb {
  constructor(
    private readonly iam: IamTokenProvider,
    private readonly client: TaurusDbClient,
    private readonly instances: InstanceDetailsCache,
    private readonly clock: Clock,
  ) {
    super();
  }

  /** Keyed by caller too: details fetched with one caller's token are not handed to another. */
  instanceDetails(caller: TaurusDbCaller, instance: InstanceRef): Promise<InstanceDetails> {
    const { projectId, instanceId } = instance;
    return this.instances.get(`${ownerOf(caller)}|${projectId}|${instanceId}`, () =>
      this.withIamToken(caller, projectId, (credentials) =>
        this.client.getInstance(credentials, projectId, instanceId, caller.requestId),
      ),
    );
  }

  listInstances(
    caller: TaurusDbCaller,
    projectId: string,
    query: InstanceListQuery,
  ): Promise<InstancePage> {
    return this.withIamToken(caller, projectId, (credentials) =>
      this.client.listInstances(credentials, projectId, query, caller.requestId),
    );
  }

  showLock(caller: TaurusDbCaller, instance: InstanceRef): Promise<VaultLockInfo> {
    const { projectId, instanceId } = instance;
    return this.withIamToken(caller, projectId, (credentials) =>
      this.client.getVaultLock(credentials, projectId, instanceId, caller.requestId),
    );
  }

  setLock(
    caller: TaurusDbCaller,
    instance: InstanceRef,
    change: LockChange,
    deadline?: SendDeadline,
  ): Promise<SetVaultLockResult> {
    const { projectId, instanceId } = instance;
    const body = {
      backup_vaultlock_info: { lock_retention_days: change.retentionDays, lock_policy: true },
      action: change.action,
    } as const;
    return this.withIamToken(caller, projectId, (credentials) => {
      if (deadline !== undefined && this.clock.nowMs() > deadline.sendByMs) {
        throw new GatewayError(
          GwCode.CLAIM_TOO_SHORT,
          503,
          'the IAM token came too late to send the change within its claim; nothing was sent',
        );
      }
      return this.client.setVaultLock(credentials, projectId, instanceId, body, caller.requestId);
    });
  }

  /**
   * TaurusDB answers 401 when IAM revoked a token early (up to 30 min after a permission
   * change): the cached token is dropped and the call tried once more with a fresh one. A 401
   * means the call was refused, so repeating even the PUT cannot apply it twice.
   */
  private async withIamToken<T>(
    caller: TaurusDbCaller,
    projectId: string,
    call: (credentials: UpstreamCredentials) => Promise<T>,
  ): Promise<T> {
    const subject = subjectOf(caller);
    const token = await this.iam.tokenFor(subject, projectId);
    try {
      return await call(credentialsOf(token));
    } catch (error) {
      if (!(error instanceof UpstreamUnauthorizedError)) throw error;
      await this.iam.evict(subject, projectId, token);
      const fresh = await this.iam.tokenFor(subject, projectId);
      return call(credentialsOf(fresh));
    }
  }
}

const subjectOf = (caller: TaurusDbCaller): TokenSubject =>
  caller.identity === 'service' ? SERVICE_IDENTITY : caller.principal;

/** A principal id is `iss#sub`, so it is never the bare service identity. */
const ownerOf = (caller: TaurusDbCaller): string => {
  const subject = subjectOf(caller);
  return subject === SERVICE_IDENTITY ? subject : subject.id;
};

function credentialsOf(token: IamToken): UpstreamCredentials {
  return { token: token.value(), region: token.region };
}
