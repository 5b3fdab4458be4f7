import { lockSnapshotOf, settlementOf } from './lock-evidence.js';

const off = { enabled: false, retentionDays: null, endsAtMs: null };
const on = (days: number, endsAtMs = 1_000 + days) => ({
  enabled: true,
  retentionDays: days,
  endsAtMs,
});

describe('lockSnapshotOf', () => {
  it('reads an enabled lock', () => {
    expect(
      lockSnapshotOf({
        backup_vaultlock_info: {
          lock_policy: true,
          lock_retention_days: 30,
          lock_start_time: 1,
          lock_end_time: 99,
        },
      }),
    ).toEqual({ enabled: true, retentionDays: 30, endsAtMs: 99 });
  });

  it('ignores the days of a lock that is off', () => {
    expect(
      lockSnapshotOf({ backup_vaultlock_info: { lock_policy: false, lock_retention_days: 7 } }),
    ).toEqual(off);
  });
});

describe('settlementOf', () => {
  const enable30 = { action: 'enable' as const, retentionDays: 30 };
  const extend60 = { action: 'extend' as const, retentionDays: 60 };

  it('fails an enable when the lock is still off', () => {
    expect(settlementOf(enable30, off, off).outcome).toBe('failed');
    expect(settlementOf(enable30, null, off).outcome).toBe('failed');
  });

  it('succeeds an enable when the lock holds the days asked', () => {
    expect(settlementOf(enable30, off, on(30))).toMatchObject({ outcome: 'succeeded' });
  });

  it('leaves undecided a lock holding the days asked when nobody knows what it held before', () => {
    expect(settlementOf(enable30, null, on(30)).outcome).toBe('undecided');
    expect(settlementOf({ action: 'extend', retentionDays: 60 }, null, on(60)).outcome).toBe(
      'undecided',
    );
  });

  it('fails an extend when the lock is unchanged since it was read', () => {
    expect(settlementOf(extend60, on(30), on(30)).outcome).toBe('failed');
  });

  it('fails an extend when the lock holds fewer days than asked', () => {
    expect(settlementOf(extend60, null, on(45)).outcome).toBe('failed');
  });

  it('succeeds an extend when the lock holds exactly the days asked', () => {
    expect(settlementOf(extend60, on(30), on(60)).outcome).toBe('succeeded');
  });

  it('leaves undecided a lock that holds more than asked', () => {
    expect(settlementOf(extend60, on(30), on(90)).outcome).toBe('undecided');
  });

  it('leaves undecided a lock that already held the days asked before the change', () => {
    expect(settlementOf(extend60, on(60, 5), on(60, 7)).outcome).toBe('undecided');
  });
});
