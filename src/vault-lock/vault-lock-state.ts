import type { VaultLockInfo } from '../taurusdb/taurusdb.types.js';

export interface LockTarget {
  projectId: string;
  instanceId: string;
}

/** A lock as both channels show it: TaurusDB's answer read once, the same way everywhere. */
export interface LockState extends LockTarget {
  enabled: boolean;
  retentionDays: number | null;
  startsAt: Date | null;
  endsAt: Date | null;
}

/** A lock that is off has no retention or times, whatever TaurusDB left in those fields. */
export function lockStateOf(target: LockTarget, upstream: VaultLockInfo): LockState {
  const info = upstream.backup_vaultlock_info;
  const enabled = info?.lock_policy === true;
  return {
    projectId: target.projectId,
    instanceId: target.instanceId,
    enabled,
    retentionDays: enabled ? (info?.lock_retention_days ?? null) : null,
    startsAt: enabled ? dateOf(info?.lock_start_time) : null,
    endsAt: enabled ? dateOf(info?.lock_end_time) : null,
  };
}

function dateOf(timestamp: number | null | undefined): Date | null {
  return typeof timestamp === 'number' && timestamp > 0 ? new Date(timestamp) : null;
}
