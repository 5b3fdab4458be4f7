import type { Principal } from '../domain/principal.js';
import type { VaultLockAction } from '../domain/actions.js';
import type {
  InstanceDetails,
  InstanceListQuery,
  InstancePage,
  SetVaultLockResult,
  VaultLockInfo,
} from './taurusdb.types.js';

/**
 * Whose IAM token a call is sent with: the caller's, or the gateway's own service identity for
 * background work, which runs long after the caller's token has expired.
 */
export type CallIdentity = 'caller' | 'service';

/** Who a TaurusDB call is made for, and the request it belongs to (sent as `X-Request-Id`). */
export interface TaurusDbCaller {
  principal: Principal;
  requestId: string;
  /** Absent: `caller`. */
  identity?: CallIdentity;
}

/** One instance of one project; both IDs are checked before any URL is built from them. */
export interface InstanceRef {
  projectId: string;
  instanceId: string;
}

export interface LockChange {
  action: VaultLockAction;
  retentionDays: number;
}

/**
 * The longest a change can take once it is sent: its IAM token and the PUT, and once more for
 * the retry after a refused token, each within the upstream deadline. Background work sends a
 * change only while its claim has that much left, and each PUT only by its SendDeadline, so that
 * once a claim has passed, its PUT has answered or never will, and another replica may read the
 * lock to settle it.
 */
export function changeBudgetMs(upstreamTimeoutMs: number): number {
  return 4 * upstreamTimeoutMs;
}

/**
 * How long a change that may have been sent is left to land at TaurusDB before its lock is read
 * to settle it: a PUT that arrived late is applied within its own deadline.
 */
export function uncertainGraceMs(upstreamTimeoutMs: number): number {
  return 2 * upstreamTimeoutMs;
}

/**
 * The latest moment (the clock's `nowMs`) a change may still be sent. Background work holds a
 * claim, and a PUT that starts later could still be under way when the claim ends and another
 * replica reads the lock to settle it. An IAM token can take longer than its deadline (waiting
 * on another replica's exchange), so the moment is checked with the token in hand, before each
 * send: past it, nothing is sent and the change fails with `GW.CLAIM_TOO_SHORT`.
 */
export interface SendDeadline {
  sendByMs: number;
}

/** The send deadline of a claim that ends at `claimEndsMs`: its PUT answers before then. */
export function sendDeadlineWithin(claimEndsMs: number, upstreamTimeoutMs: number): SendDeadline {
  return { sendByMs: claimEndsMs - upstreamTimeoutMs };
}

/**
 * TaurusDB as the use case sees it: calls made on a caller's behalf. Whose IAM token is sent,
 * refreshing a token TaurusDB refused, and how long instance details are kept are the
 * implementation's business. Failures are UpstreamError (or GatewayError for IAM).
 */
export abstract class TaurusDb {
  /** The instance's enterprise project and tags, which the policy reads; briefly cached. */
  abstract instanceDetails(caller: TaurusDbCaller, instance: InstanceRef): Promise<InstanceDetails>;

  /** One page of the project's instances that carry every tag of `query.tags`; never cached. */
  abstract listInstances(
    caller: TaurusDbCaller,
    projectId: string,
    query: InstanceListQuery,
  ): Promise<InstancePage>;

  abstract showLock(caller: TaurusDbCaller, instance: InstanceRef): Promise<VaultLockInfo>;

  /** Irreversible: enables or extends the lock, which can never be switched off again. */
  abstract setLock(
    caller: TaurusDbCaller,
    instance: InstanceRef,
    change: LockChange,
    deadline?: SendDeadline,
  ): Promise<SetVaultLockResult>;
}
