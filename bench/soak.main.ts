import { mkdirSync, writeFileSync } from 'node:fs';
import { startBenchEnvironment } from './environment.js';
import { numberOption, parseOptionArgs } from './options.js';
import { renderSoak, runSoak } from './soak.js';

/**
 * `npm run bench:soak`: options as `--duration=300 --rate=200 --connections=16 --sample=10
 * --latency=0` or BENCH_SOAK_SECONDS, BENCH_SOAK_RATE, BENCH_SOAK_CONNECTIONS,
 * BENCH_SOAK_SAMPLE_SECONDS, BENCH_LATENCY_MS.
 */
const args = parseOptionArgs(['duration', 'rate', 'connections', 'sample', 'latency']);
const options = {
  durationSeconds: numberOption(args, 'duration', 'BENCH_SOAK_SECONDS', 300),
  rate: numberOption(args, 'rate', 'BENCH_SOAK_RATE', 200),
  connections: numberOption(args, 'connections', 'BENCH_SOAK_CONNECTIONS', 16),
  sampleSeconds: numberOption(args, 'sample', 'BENCH_SOAK_SAMPLE_SECONDS', 10),
  upstreamLatencyMs: numberOption(args, 'latency', 'BENCH_LATENCY_MS', 0),
};

const env = await startBenchEnvironment({ upstreamLatencyMs: options.upstreamLatencyMs });
try {
  const report = await runSoak(env, options);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/soak-latest.json', `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${renderSoak(report)}\nWritten to bench/results/soak-latest.json\n`);
} finally {
  await env.close();
}
