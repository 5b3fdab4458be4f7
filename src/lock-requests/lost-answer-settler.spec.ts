import type { AuditTrail } from '../audit/audit-trail.js';
import { anAttempt, AuditStoreDir } from '../audit/testing/audit-fixtures.js';
import { ManualClock } from '../common/testing/manual-clock.js';
import { INSTANCES } from '../simulator/fixtures.js';
import type { InstanceRef, TaurusDbCaller } from '../taurusdb/taurusdb.js';
import type { VaultLockInfo } from '../taurusdb/taurusdb.types.js';
import { FixtureTaurusDb } from '../taurusdb/testing/fixture-taurusdb.js';
import { Tracing } from '../tracing/tracing.js';
import { LostAnswerSettler } from './lost-answer-settler.js';

/** TaurusDB over the fixtures; `duringLockRead` runs inside each lock read. */
class ReadingTaurusDb extends FixtureTaurusDb {
  duringLockRead: () => Promise<void> = async () => undefined;

  override async showLock(caller: TaurusDbCaller, ref: InstanceRef): Promise<VaultLockInfo> {
    await this.duringLockRead();
    return super.showLock(caller, ref);
  }
}

describe('LostAnswerSettler', () => {
  const instance = INSTANCES.financeProd;
  let dir: AuditStoreDir;
  let audit: AuditTrail;
  let taurusDb: ReadingTaurusDb;
  let clock: ManualClock;
  let settler: LostAnswerSettler;

  beforeEach(async () => {
    dir = new AuditStoreDir();
    clock = new ManualClock(new Date('2026-11-30T12:00:00.000Z'));
    audit = await dir.start(dir.file(), undefined, clock);
    taurusDb = new ReadingTaurusDb();
    settler = new LostAnswerSettler(audit, taurusDb, clock, new Tracing());
  });

  afterEach(() => dir.cleanup());

  /** An `enable` to 30 days whose answer was lost; the lock, still off, proves it failed. */
  async function lostAnswer(): Promise<string> {
    const id = await audit.recordAttempt(
      anAttempt({ projectId: instance.projectId, instanceId: instance.id }),
    );
    await audit.complete(id, {
      outcome: 'unknown',
      errorCode: 'GW.UPSTREAM_TIMEOUT',
      durationMs: 10,
    });
    clock.advance(60);
    return id;
  }

  const settlesOf = async (id: string) =>
    (await audit.list({ settlesAuditId: id }, 10)).events.map((e) => e.outcome);

  it('settles an unknown row from the lock while it holds the lease', async () => {
    const id = await lostAnswer();

    expect(await settler.settlePass(0, async () => true)).toBe(1);
    expect(await settler.settlePass(0, async () => true)).toBe(0);

    expect(await settlesOf(id)).toEqual(['failed']);
  });

  it('writes nothing when its lease lapsed during the lock read', async () => {
    const id = await lostAnswer();
    let holds = true;
    taurusDb.duringLockRead = async () => {
      holds = false;
    };

    expect(await settler.settlePass(0, async () => holds)).toBe(0);

    expect(await settlesOf(id)).toEqual([]);
  });

  it('writes nothing when another replica settled the row during the lock read', async () => {
    const id = await lostAnswer();
    const other = new LostAnswerSettler(audit, new FixtureTaurusDb(), clock, new Tracing());
    taurusDb.duringLockRead = async () => {
      // The lease lapsed and came back: another replica held it meanwhile and settled the row.
      expect(await other.settlePass(0, async () => true)).toBe(1);
    };

    expect(await settler.settlePass(0, async () => true)).toBe(0);

    expect(await settlesOf(id)).toEqual(['failed']);
  });
});
