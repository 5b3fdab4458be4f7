import { Redis } from 'ioredis';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runBenchmark } from '../bench/benchmark.js';
import { summarizeProfile } from '../bench/cpu-profile-summary.js';
import { CpuProfiles } from '../bench/cpu-profiles.js';
import { startBenchEnvironment, type BenchEnvironment } from '../bench/environment.js';
import { FLEET_SCENARIOS, renderFleet, runFleetScenarios, splitScenarios } from '../bench/fleet.js';
import { choiceOption } from '../bench/options.js';
import { startReferenceProxy } from '../bench/reference-proxy.js';
import { checkTargets, renderBenchmark } from '../bench/report.js';
import { renderSoak, runSoak } from '../bench/soak.js';
import { STORES } from '../bench/stores.js';
import {
  describeWithPostgres,
  TEST_POSTGRES_URL,
} from '../src/audit/testing/postgres-test-database.js';
import { requireRedis, TEST_REDIS_URL } from '../src/redis/testing/test-redis.js';

const describeWithRedis = (await requireRedis()) ? describe : describe.skip;

/** The gateway logs at info into the directory whose lines the global teardown scans for secrets. */
const gatewayEnv = (name: string) => ({
  LOG_LEVEL: 'info',
  LOG_FILE: join(process.env.VLG_TEST_LOG_DIR ?? tmpdir(), `${name}-${process.pid}.log`),
});

/**
 * The benchmark harness on a tiny load, so it cannot silently break: shapes and zero errors,
 * never timings. The gateway is the built one (jest's global setup builds first), in production mode,
 * logging at info into the directory whose lines the global teardown scans for secrets.
 */
describe('benchmark harness', () => {
  let env: BenchEnvironment;

  beforeAll(async () => {
    env = await startBenchEnvironment({
      upstreamLatencyMs: 1,
      startReference: (config) => startReferenceProxy(config),
      // As `npm run bench` runs it: every lock of the fleet scenarios read from TaurusDB.
      gatewayEnv: { ...gatewayEnv('bench'), FLEET_LOCK_CACHE_MS: '0' },
      cpuProfiles: new CpuProfiles(mkdtempSync(join(tmpdir(), 'vlg-bench-profiles-'))),
    });
  }, 60_000);

  afterAll(() => env?.close());

  it('runs the gateway, the reference proxy and TaurusDB alone with every PUT succeeding', async () => {
    const report = await runBenchmark(env, {
      concurrencies: [2],
      durationSeconds: 1,
      // A cold gateway can take a second over its first answers.
      warmupSeconds: 1,
      upstreamLatencyMs: 1,
      scenarios: ['REST PUT', 'GraphQL mutation', 'reference PUT', 'upstream PUT'],
    });

    expect(report.runs.map((run) => [run.scenario, run.connections])).toEqual([
      ['REST PUT', 2],
      ['GraphQL mutation', 2],
      ['reference PUT', 2],
      ['upstream PUT', 2],
    ]);
    for (const run of report.runs) {
      expect(run.errors).toEqual({ non2xx: 0, socket: 0, unexpectedBody: 0, total: 0 });
      expect(run.requests).toBeGreaterThan(0);
      expect(run.latencyMs.p50).toBeGreaterThan(0);
      expect(run.latencyMs.max).toBeGreaterThanOrEqual(run.latencyMs.p99);
      expect(run.gateway !== undefined).toBe(run.target === 'gateway');
    }
    expect(report.runs[0].gateway?.peakRssMb).toBeGreaterThan(0);
    // A profile of each measured gateway run, none of the warm-up, holding the gateway's code.
    const profiles = report.runs.map((run) => run.cpuProfile);
    expect(profiles).toEqual([
      join(env.cpuProfiles!.directory, 'REST-PUT-c2.cpuprofile'),
      join(env.cpuProfiles!.directory, 'GraphQL-mutation-c2.cpuprofile'),
      undefined,
      undefined,
    ]);
    const summary = summarizeProfile(profiles[0]!, 1_000);
    expect(summary.sampledUs).toBeGreaterThan(0);
    expect(summary.areas.map(([area]) => area)).toEqual(
      expect.arrayContaining(['fastify', 'gateway vault-lock']),
    );
    expect(report.comparisons).toEqual([
      expect.objectContaining({ scenario: 'REST PUT', ratioToReference: expect.any(Number) }),
      expect.objectContaining({
        scenario: 'GraphQL mutation',
        addedP50Ms: expect.any(Number),
        referenceAddedP50Ms: expect.any(Number),
      }),
    ]);
    // One caller and one project each for the gateway and the reference proxy.
    expect(report.iamExchanges).toEqual({ gateway: 1, reference: 1, total: 3 });
    expect(report.gatewayReadyMs).toBeGreaterThan(0);
    expect(checkTargets(report).map((check) => check.target)).toHaveLength(7);
    expect(renderBenchmark(report)).toContain('| REST PUT | 2 |');
    expect(report.store).toBe('sqlite');
    expect(env.shared).toBeUndefined();
    expect(renderBenchmark(report)).toContain('audit in SQLite, shared state in memory');
  }, 60_000);

  it('reads the whole fleet with every lock and dry-runs a bulk job over all of it, twice each', async () => {
    const report = await runFleetScenarios(env, {
      scenarios: [...FLEET_SCENARIOS],
      upstreamLatencyMs: 1,
      fleetConcurrency: 8,
      bulkConcurrency: 4,
    });

    expect(report.runs.map((run) => [run.scenario, run.pass])).toEqual([
      ['fleet 500', 1],
      ['fleet 500', 2],
      ['bulk dry run 500', 1],
      ['bulk dry run 500', 2],
    ]);
    for (const run of report.runs) {
      expect(run).toMatchObject({ instances: 500, failures: 0 });
      expect(run.upstreamCalls['taurusdb.listInstances']).toBe(5);
      expect(run.peakRssMb).toBeGreaterThan(0);
      expect(run.targetMs).toBe(1.5 * run.upstreamAloneMs);
    }
    const [fleet, , bulk] = report.runs;
    expect(fleet.upstreamCalls['taurusdb.getLock']).toBe(500);
    expect(fleet.gatewayRequests).toBe(5);
    expect(fleet.upstreamAloneMs).toBe((500 * 1) / 8 + 5 * 1);
    expect(bulk.upstreamCalls['taurusdb.instance']).toBe(500);
    expect(Object.values(bulk.itemStates!).reduce((sum, count) => sum + count, 0)).toBe(500);
    expect(renderFleet(report)).toContain('| fleet 500 | 2 | 500 | 8 |');
  }, 60_000);

  it('takes the whole-fleet scenarios beside the load scenarios and refuses unknown names', () => {
    const load = ['REST PUT', 'upstream PUT'];
    expect(splitScenarios(undefined, load)).toEqual({
      load: undefined,
      fleet: ['fleet 500', 'bulk dry run 500'],
    });
    expect(splitScenarios(['bulk dry run 500', 'REST PUT'], load)).toEqual({
      load: ['REST PUT'],
      fleet: ['bulk dry run 500'],
    });
    expect(() => splitScenarios(['fleet 5000'], load)).toThrow(
      'unknown scenario fleet 5000; known: REST PUT, upstream PUT, fleet 500, bulk dry run 500',
    );
  });

  it('takes --store as sqlite or postgres and refuses anything else by name', () => {
    const store = (value?: string) =>
      choiceOption({ store: value }, 'store', 'BENCH_STORE', STORES, 'sqlite');
    expect(store(undefined)).toBe('sqlite');
    expect(store('postgres')).toBe('postgres');
    expect(() => store('mysql')).toThrow(
      '--store (BENCH_STORE) must be one of sqlite, postgres, not mysql',
    );
  });

  it('samples RSS and event-loop delay during a soak at a steady rate', async () => {
    const report = await runSoak(env, {
      durationSeconds: 3,
      rate: 40,
      connections: 2,
      sampleSeconds: 1,
      upstreamLatencyMs: 1,
    });

    expect(report.errors).toBe(0);
    expect(report.requests).toBeGreaterThan(0);
    expect(report.samples.length).toBeGreaterThanOrEqual(2);
    for (const sample of report.samples) {
      expect(sample.rssMb).toBeGreaterThan(0);
      expect(Number.isFinite(sample.eventLoopP99Ms)).toBe(true);
    }
    expect(Number.isFinite(report.rssGrowthPercent)).toBe(true);
    expect(renderSoak(report)).toContain('RSS growth over the soak');
  }, 60_000);
});

await describeWithPostgres('benchmark harness with --store=postgres', () => {
  describeWithRedis('benchmark harness on PostgreSQL and Redis', () => {
    let server: pg.Client;
    let redis: Redis;

    beforeAll(async () => {
      server = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await server.connect();
      redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    });

    afterAll(async () => {
      await server?.end();
      await redis?.quit();
    });

    const databaseExists = async (name: string) =>
      (await server.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;

    async function auditRows(database: string): Promise<number> {
      const url = new URL(TEST_POSTGRES_URL);
      url.pathname = `/${database}`;
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(
          'SELECT count(*) AS n FROM audit_events',
        );
        return Number(rows[0].n);
      } finally {
        await client.end();
      }
    }

    it('gives the gateway a database and a key prefix of its own and removes both on close', async () => {
      const env = await startBenchEnvironment({
        upstreamLatencyMs: 0,
        store: 'postgres',
        startReference: (config) => startReferenceProxy(config),
        gatewayEnv: gatewayEnv('bench-postgres'),
      });
      let open = true;
      try {
        const { database, redisKeyPrefix } = env.shared!;
        expect(database).toMatch(/^vlg_bench_[0-9a-f]{12}$/);
        expect(redisKeyPrefix).toMatch(/^vlg-bench:[0-9a-f]{12}:$/);

        const report = await runBenchmark(env, {
          concurrencies: [2],
          durationSeconds: 1,
          warmupSeconds: 1,
          upstreamLatencyMs: 0,
          scenarios: ['REST PUT', 'GraphQL mutation'],
        });
        for (const run of report.runs) {
          expect(run.errors.total).toBe(0);
          expect(run.requests).toBeGreaterThan(0);
        }
        expect(report.store).toBe('postgres');
        expect(report.iamExchanges.gateway).toBe(1);
        expect(renderBenchmark(report)).toContain('audit in PostgreSQL, shared state in Redis');

        // Every answered mutation, warm-up included, has its row in the run's own database, and
        // the shared state (IAM token, rate-limit counters) sits under the run's own prefix.
        const answered = report.runs.reduce((sum, run) => sum + run.requests, 0);
        expect(await auditRows(database)).toBeGreaterThanOrEqual(answered);
        expect(await redis.keys(`${redisKeyPrefix}*`)).not.toHaveLength(0);

        open = false;
        await env.close();
        expect(await databaseExists(database)).toBe(false);
        expect(await redis.keys(`${redisKeyPrefix}*`)).toEqual([]);
      } finally {
        if (open) await env.close();
      }
    }, 90_000);
  });
});
