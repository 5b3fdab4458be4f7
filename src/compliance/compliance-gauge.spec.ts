import { AuditStoreDir } from '../audit/testing/audit-fixtures.js';
import { ServiceAccount } from '../auth/iam/iam.config.js';
import { Clock } from '../common/clock.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { ManualClock } from '../common/testing/manual-clock.js';
import { LockStateReader } from '../fleet/lock-state-reader.js';
import { SqliteLockRequestStore } from '../lock-requests/sqlite-lock-request-store.js';
import { PolicyEvaluator } from '../policy/policy-evaluator.js';
import type { LoadedPolicy } from '../policy/policy-loader.js';
import type { PolicyRule } from '../policy/policy-rule.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { FLEET_INSTANCES, PROJECTS } from '../simulator/fixtures.js';
import { FixtureTaurusDb } from '../taurusdb/testing/fixture-taurusdb.js';
import { Tracing } from '../tracing/tracing.js';
import { COMPLIANCE_TICK_MS, ComplianceGauge } from './compliance-gauge.js';
import { ComplianceService } from './compliance.service.js';

const FLEET = PROJECTS.cnNorth4Fleet.id;
const INTERVAL_MINUTES = 60;
/** Every prod instance needs a lock of 30 days; the fixtures lock none. */
const POLICY: LoadedPolicy = {
  version: 'sha256:test',
  source: 'spec',
  rules: [
    {
      id: 'prod-30',
      groups: ['nobody'],
      projects: ['*'],
      enterpriseProjects: ['*'],
      tags: { env: ['prod'] },
      actions: ['show'],
      minRetentionDays: 30,
    } as PolicyRule,
  ],
};
const PROD = FLEET_INSTANCES.filter((i) =>
  i.tags.some((t) => t.key === 'env' && t.value === 'prod'),
);

/** A replica's own connection to the shared leases, which can be made to fail. */
class FailingLeases extends SqliteLockRequestStore {
  failing = false;

  override claimLease(name: string, holder: string, now: string, until: string) {
    if (this.failing) return Promise.reject(new Error('the store is unavailable'));
    return super.claimLease(name, holder, now, until);
  }
}

/** One replica's gauge, its metrics, and how many times it read the fleet. */
class Replica {
  readonly metrics = new GatewayMetrics();
  readonly taurusDb = new FixtureTaurusDb();
  readonly gauge: ComplianceGauge;

  constructor(leases: SqliteLockRequestStore, clock: ManualClock, projects: string[] = [FLEET]) {
    const evaluator = new PolicyEvaluator(
      { current: () => POLICY } as PolicyStore,
      this.metrics,
      new Tracing(),
    );
    const compliance = new ComplianceService(
      this.taurusDb,
      evaluator,
      new LockStateReader(this.taurusDb, { concurrency: 4, lockCacheMs: 0 }, new Clock()),
    );
    this.gauge = new ComplianceGauge(
      { projects, intervalMinutes: INTERVAL_MINUTES },
      {
        endpoint: 'http://127.0.0.1:9',
        mode: 'password',
        serviceAccount: new ServiceAccount('sim-domain', 'sim-service', 'sim-password'),
      },
      compliance,
      this.metrics,
      leases,
      clock,
    );
  }

  get fleetReads(): number {
    return this.taurusDb.calls.listInstances;
  }

  async exported(): Promise<{ project: string | number | undefined; value: number }[]> {
    const { values } = await this.metrics.noncompliantInstances.get();
    return values.map(({ labels, value }) => ({ project: labels.project, value }));
  }
}

describe('ComplianceGauge across replicas', () => {
  let dir: AuditStoreDir;
  let leases: SqliteLockRequestStore;
  let clock: ManualClock;
  let first: Replica;
  let second: Replica;

  beforeEach(async () => {
    dir = new AuditStoreDir();
    leases = new SqliteLockRequestStore(dir.file());
    await leases.open();
    clock = new ManualClock(new Date('2026-11-30T02:00:00.000Z'));
    first = new Replica(leases, clock);
    second = new Replica(leases, clock);
  });

  afterEach(async () => {
    await leases.close();
    await dir.cleanup();
  });

  const after = (ms: number) => clock.advanceMs(ms);
  /** A tick of `replica`, and the refresh it started, if any, to its end. */
  const tick = async (replica: Replica) => {
    await replica.gauge.tick();
    await replica.gauge.refreshed();
  };

  it('reads the fleet on one replica only, once an interval, and only that one exports the count', async () => {
    await tick(first);
    await tick(second);
    expect(first.fleetReads).toBeGreaterThan(0);
    expect(second.fleetReads).toBe(0);
    expect(await first.exported()).toEqual([{ project: FLEET, value: PROD.length }]);
    expect(await second.exported()).toEqual([]);

    const readsAfterFirst = first.fleetReads;
    for (let minute = 1; minute < INTERVAL_MINUTES; minute++) {
      after(COMPLIANCE_TICK_MS);
      await tick(first);
      await tick(second);
    }
    expect([first.fleetReads, second.fleetReads]).toEqual([readsAfterFirst, 0]);

    after(COMPLIANCE_TICK_MS);
    await tick(first);
    expect(first.fleetReads).toBe(2 * readsAfterFirst);
  });

  it('hands the reading to another replica when its holder dies, and a returning one drops its stale count', async () => {
    await tick(first);
    await tick(second);

    // The first replica stops ticking; its lease runs out after three ticks.
    for (let n = 1; n <= 2; n++) {
      after(COMPLIANCE_TICK_MS);
      await tick(second);
    }
    expect(second.fleetReads).toBe(0);
    after(COMPLIANCE_TICK_MS + 1);
    await tick(second);
    expect(second.fleetReads).toBeGreaterThan(0);
    expect(await second.exported()).toEqual([{ project: FLEET, value: PROD.length }]);

    await tick(first);
    expect(await first.exported()).toEqual([]);
  });

  it('gives the lease up when its holder stops, so that the next replica reads at its next tick', async () => {
    await tick(first);
    await first.gauge.onApplicationShutdown();

    after(COMPLIANCE_TICK_MS);
    await tick(second);
    expect(second.fleetReads).toBeGreaterThan(0);
    expect(await second.exported()).toEqual([{ project: FLEET, value: PROD.length }]);
  });

  it('keeps the lease through a refresh longer than the lease, and no other replica reads meanwhile', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const list = first.taurusDb.listInstances.bind(first.taurusDb);
    first.taurusDb.listInstances = async (...args) => {
      await released;
      return list(...args);
    };
    await first.gauge.tick();

    for (let n = 1; n <= 5; n++) {
      after(COMPLIANCE_TICK_MS);
      await first.gauge.tick();
      await tick(second);
    }
    release();
    await first.gauge.refreshed();
    expect(second.fleetReads).toBe(0);
    expect(await first.exported()).toEqual([{ project: FLEET, value: PROD.length }]);
  });

  it('tries again on the next tick a refresh in which no project could be assessed', async () => {
    first.taurusDb.listInstances = async () => {
      throw new Error('TaurusDB is unavailable');
    };
    await tick(first);
    expect(await first.exported()).toEqual([]);

    first.taurusDb.listInstances = FixtureTaurusDb.prototype.listInstances.bind(first.taurusDb);
    after(COMPLIANCE_TICK_MS);
    await tick(first);
    expect(await first.exported()).toEqual([{ project: FLEET, value: PROD.length }]);
  });

  it('publishes nothing from a refresh begun before its replica lost the lease, and reads anew once it holds it again', async () => {
    const ownLeases = new FailingLeases(dir.file());
    await ownLeases.open();
    const replica = new Replica(ownLeases, clock);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const list = replica.taurusDb.listInstances.bind(replica.taurusDb);
    replica.taurusDb.listInstances = async (...args) => {
      await released;
      return list(...args);
    };
    try {
      await replica.gauge.tick();
      ownLeases.failing = true;
      after(COMPLIANCE_TICK_MS);
      await replica.gauge.tick();
      ownLeases.failing = false;
      after(COMPLIANCE_TICK_MS);
      await replica.gauge.tick();

      release();
      await replica.gauge.refreshed();
      expect(await replica.exported()).toEqual([]);
      await tick(replica);
      expect(await replica.exported()).toEqual([{ project: FLEET, value: PROD.length }]);
    } finally {
      await ownLeases.close();
    }
  });

  it('reads again on the next tick only the projects that could not be assessed', async () => {
    const other = PROJECTS.cnNorth4.id;
    const replica = new Replica(leases, clock, [FLEET, other]);
    const reads: string[] = [];
    const list = replica.taurusDb.listInstances.bind(replica.taurusDb);
    replica.taurusDb.listInstances = async (caller, projectId, query) => {
      reads.push(projectId);
      if (projectId === other && reads.filter((p) => p === other).length === 1) {
        throw new Error('TaurusDB is unavailable');
      }
      return list(caller, projectId, query);
    };

    await tick(replica);
    expect((await replica.exported()).map((series) => series.project)).toEqual([FLEET]);
    const fleetReads = reads.filter((p) => p === FLEET).length;

    after(COMPLIANCE_TICK_MS);
    await tick(replica);
    expect((await replica.exported()).map((series) => series.project).sort()).toEqual(
      [FLEET, other].sort(),
    );
    expect(reads.filter((p) => p === FLEET)).toHaveLength(fleetReads);
  });
});
