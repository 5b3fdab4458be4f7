import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBenchmark } from '../bench/benchmark.js';
import { startBenchEnvironment, type BenchEnvironment } from '../bench/environment.js';
import { startReferenceProxy } from '../bench/reference-proxy.js';
import { checkTargets, renderBenchmark } from '../bench/report.js';
import { renderSoak, runSoak } from '../bench/soak.js';

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
      gatewayEnv: {
        LOG_LEVEL: 'info',
        LOG_FILE: join(process.env.VLG_TEST_LOG_DIR ?? tmpdir(), `bench-${process.pid}.log`),
      },
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
  }, 60_000);

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
