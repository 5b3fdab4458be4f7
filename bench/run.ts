import { mkdirSync, writeFileSync } from 'node:fs';
import { runBenchmark, SCENARIOS } from './benchmark.js';
import { CpuProfiles } from './cpu-profiles.js';
import { startBenchEnvironment } from './environment.js';
import { renderFleet, runFleetScenarios, splitScenarios } from './fleet.js';
import {
  choiceOption,
  concurrencyOption,
  listOption,
  numberOption,
  parseOptionArgs,
} from './options.js';
import { renderBenchmark } from './report.js';
import { STORES } from './stores.js';

/**
 * `npm run bench`: options as `--duration=6 --warmup=2 --latency=0 --concurrency=1,16,64
 * --scenarios="REST PUT,reference PUT,fleet 500" --store=sqlite --fleet-latency=20
 * --fleet-concurrency=8 --bulk-concurrency=4 --cpu-prof=bench/results/profiles --tracing=on` or
 * BENCH_DURATION, BENCH_WARMUP, BENCH_LATENCY_MS, BENCH_CONCURRENCY, BENCH_SCENARIOS,
 * BENCH_STORE, BENCH_FLEET_LATENCY_MS, BENCH_FLEET_CONCURRENCY, BENCH_BULK_CONCURRENCY,
 * BENCH_CPU_PROF, BENCH_TRACING.
 * `--cpu-prof` names a folder for a CPU profile of the gateway over each measured run;
 * `npm run bench:profile -- <file>` lists a profile's heaviest frames.
 */
const args = parseOptionArgs([
  'duration',
  'warmup',
  'latency',
  'concurrency',
  'scenarios',
  'store',
  'fleet-latency',
  'fleet-concurrency',
  'bulk-concurrency',
  'cpu-prof',
  'tracing',
]);
const cpuProfileDir = args['cpu-prof'] ?? process.env.BENCH_CPU_PROF;
const store = choiceOption(args, 'store', 'BENCH_STORE', STORES, 'sqlite');
const tracing = choiceOption(args, 'tracing', 'BENCH_TRACING', ['on', 'off'], 'off') === 'on';
const scenarios = splitScenarios(
  listOption(args, 'scenarios', 'BENCH_SCENARIOS'),
  SCENARIOS.map((scenario) => scenario.name),
);
const options = {
  concurrencies: concurrencyOption(args),
  durationSeconds: numberOption(args, 'duration', 'BENCH_DURATION', 6),
  warmupSeconds: numberOption(args, 'warmup', 'BENCH_WARMUP', 2),
  upstreamLatencyMs: numberOption(args, 'latency', 'BENCH_LATENCY_MS', 0),
  scenarios: scenarios.load,
};
const fleetOptions = {
  scenarios: scenarios.fleet,
  upstreamLatencyMs: numberOption(args, 'fleet-latency', 'BENCH_FLEET_LATENCY_MS', 20),
  fleetConcurrency: numberOption(args, 'fleet-concurrency', 'BENCH_FLEET_CONCURRENCY', 8),
  bulkConcurrency: numberOption(args, 'bulk-concurrency', 'BENCH_BULK_CONCURRENCY', 4),
};

const env = await startBenchEnvironment({
  upstreamLatencyMs: options.upstreamLatencyMs,
  store,
  tracing,
  // Every lock of the whole-fleet scenarios is read from TaurusDB, none from the cache.
  gatewayEnv: {
    FLEET_LOCK_CACHE_MS: '0',
    FLEET_CONCURRENCY: String(fleetOptions.fleetConcurrency),
    BULK_CONCURRENCY: String(fleetOptions.bulkConcurrency),
  },
  cpuProfiles: typeof cpuProfileDir === 'string' ? new CpuProfiles(cpuProfileDir) : undefined,
});
try {
  mkdirSync('bench/results', { recursive: true });
  if (options.scenarios === undefined || options.scenarios.length > 0) {
    const report = await runBenchmark(env, options);
    writeFileSync('bench/results/latest.json', `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${renderBenchmark(report)}\nWritten to bench/results/latest.json\n`);
  }
  if (fleetOptions.scenarios.length > 0) {
    const report = await runFleetScenarios(env, fleetOptions);
    writeFileSync('bench/results/fleet-latest.json', `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${renderFleet(report)}\nWritten to bench/results/fleet-latest.json\n`);
  }
} finally {
  await env.close();
}
