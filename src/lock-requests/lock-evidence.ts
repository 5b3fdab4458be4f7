import type { VaultLockAction } from '../domain/actions.js';
import type { LockSnapshot } from '../domain/lock-request.js';
import type { VaultLockInfo } from '../taurusdb/taurusdb.types.js';

/** The lock as TaurusDB's show call reports it, reduced to what a settlement compares. */
export function lockSnapshotOf(info: VaultLockInfo): LockSnapshot {
  const lock = info.backup_vaultlock_info;
  const enabled = lock?.lock_policy === true;
  return {
    enabled,
    retentionDays: enabled ? (lock?.lock_retention_days ?? null) : null,
    endsAtMs: enabled && typeof lock?.lock_end_time === 'number' ? lock.lock_end_time : null,
  };
}

/**
 * A lock that proved nothing is read again after this long: it changes only when someone changes
 * it, and a person is meant to look at what it showed meanwhile.
 */
export const UNDECIDED_REREAD_MS = 10 * 60_000;

export type Settlement =
  { outcome: 'succeeded' | 'failed'; reason: string } | { outcome: 'undecided'; reason: string };

/**
 * What the lock read now proves about a PUT whose answer was lost. A lock can never be switched
 * off and its retention only grows, so some states rule the change out for good, and a lock
 * that now holds exactly what was asked, where it did not before, shows it applied. Anything
 * else is left for a person: the gateway never guesses, and never sends the PUT again to find out.
 *
 * `before` is the lock as read before the PUT, when it is known (lock requests keep it).
 */
export function settlementOf(
  asked: { action: VaultLockAction; retentionDays: number },
  before: LockSnapshot | null,
  now: LockSnapshot,
): Settlement {
  const days = asked.retentionDays;
  if (!now.enabled) {
    return { outcome: 'failed', reason: 'the lock is off, so the change was not applied' };
  }
  if (before !== null && sameLock(before, now)) {
    return { outcome: 'failed', reason: 'the lock is as it was before the change was sent' };
  }
  if (now.retentionDays !== null && now.retentionDays < days) {
    return {
      outcome: 'failed',
      reason: `the lock holds ${now.retentionDays} days, fewer than the ${days} asked, and retention never shrinks`,
    };
  }
  // Without the lock as it was before, the days asked prove nothing: the lock may have held
  // them already, and TaurusDB refused the change.
  if (
    before !== null &&
    now.retentionDays === days &&
    !(before.enabled && before.retentionDays === days)
  ) {
    return { outcome: 'succeeded', reason: `the lock is on with the ${days} days asked` };
  }
  return {
    outcome: 'undecided',
    reason: `the lock holds ${now.retentionDays ?? 'an unknown number of'} days, which neither proves nor rules out the ${asked.action} to ${days}`,
  };
}

function sameLock(a: LockSnapshot, b: LockSnapshot): boolean {
  return (
    a.enabled === b.enabled && a.retentionDays === b.retentionDays && a.endsAtMs === b.endsAtMs
  );
}
