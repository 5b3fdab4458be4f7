import { mkdirSync, writeFileSync } from 'node:fs';
import { runBenchmark } from './benchmark.js';
import { startBenchEnvironment } from './environment.js';
import { choiceOption, listOption, numberOption, parseOptionArgs } from './options.js';
import { renderBenchmark } from './report.js';
import { STORES } from './stores.js';

/**
 * `npm run bench`: options as `--duration=6 --warmup=2 --latency=0 --concurrency=1,16,64
 * --scenarios="REST PUT,reference PUT" --store=sqlite` or BENCH_DURATION, BENCH_WARMUP,
 * BENCH_LATENCY_MS, BENCH_CONCURRENCY, BENCH_SCENARIOS, BENCH_STORE.
 */
const args = parseOptionArgs([
  'duration',
  'warmup',
  'latency',
  'concurrency',
  'scenarios',
  'store',
]);
const store = choiceOption(args, 'store', 'BENCH_STORE', STORES, 'sqlite');
const concurrencies = (
  listOption(args, 'concurrency', 'BENCH_CONCURRENCY') ?? ['1', '16', '64']
).map(Number);
if (!concurrencies.every((c) => Number.isInteger(c) && c > 0)) {
  throw new Error('--concurrency (BENCH_CONCURRENCY) must list positive integers');
}
const options = {
  concurrencies,
  durationSeconds: numberOption(args, 'duration', 'BENCH_DURATION', 6),
  warmupSeconds: numberOption(args, 'warmup', 'BENCH_WARMUP', 2),
  upstreamLatencyMs: numberOption(args, 'latency', 'BENCH_LATENCY_MS', 0),
  scenarios: listOption(args, 'scenarios', 'BENCH_SCENARIOS'),
};

const env = await startBenchEnvironment({ upstreamLatencyMs: options.upstreamLatencyMs, store });
try {
  const report = await runBenchmark(env, options);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/latest.json', `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${renderBenchmark(report)}\nWritten to bench/results/latest.json\n`);
} finally {
  await env.close();
}
