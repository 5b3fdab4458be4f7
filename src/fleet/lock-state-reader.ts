import { Inject, Injectable } from '@nestjs/common';
import { mapBounded } from '../common/bounded-map.js';
import { CachedLookups } from '../common/cached-lookups.js';
import type { CallContext } from '../common/call-context.js';
import { Clock } from '../common/clock.js';
import { toGatewayError } from '../common/to-gateway-error.js';
import { TaurusDb } from '../taurusdb/taurusdb.js';
import { lockStateOf, type LockState } from '../vault-lock/vault-lock-state.js';
import { fleetConfig, type FleetConfig } from './fleet.config.js';

/** Enough for every instance the listings of a busy gateway show within a few seconds. */
const MAX_CACHED_LOCKS = 20_000;

/** A lock, or the error code of the read that failed: one failed read never fails the others. */
export type LockRead = { lock: LockState; lockError: null } | { lock: null; lockError: string };

/**
 * The locks of many instances for listings: FLEET_CONCURRENCY reads in flight at once, each
 * answer kept for FLEET_LOCK_CACHE_MS, failures never kept.
 */
@Injectable()
export class LockStateReader {
  private readonly locks: CachedLookups<LockState>;

  constructor(
    private readonly taurusDb: TaurusDb,
    @Inject(fleetConfig.KEY) private readonly config: FleetConfig,
    clock: Clock,
  ) {
    this.locks = new CachedLookups(MAX_CACHED_LOCKS, config.lockCacheMs, clock);
  }

  /** In the order of `instanceIds`. */
  read(ctx: CallContext, projectId: string, instanceIds: readonly string[]): Promise<LockRead[]> {
    return mapBounded(instanceIds, this.config.concurrency, (instanceId) =>
      this.readOne(ctx, projectId, instanceId),
    );
  }

  /** Keyed by caller too: a lock read with one caller's IAM token is not handed to another. */
  private async readOne(
    ctx: CallContext,
    projectId: string,
    instanceId: string,
  ): Promise<LockRead> {
    const target = { projectId, instanceId };
    try {
      const lock = await this.locks.get(
        `${ctx.principal.id}|${projectId}|${instanceId}`,
        async () => lockStateOf(target, await this.taurusDb.showLock(ctx, target)),
      );
      return { lock, lockError: null };
    } catch (error) {
      return { lock: null, lockError: toGatewayError(error).errorCode };
    }
  }
}
