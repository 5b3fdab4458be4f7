import { mkdirSync, writeFileSync } from 'node:fs';
import { startBenchEnvironment } from './environment.js';
import { installHiveGateway, startHiveGateway } from './hive-gateway.js';
import { choiceOption, concurrencyOption, numberOption, parseOptionArgs } from './options.js';
import { renderPeers, runPeers } from './peers.js';
import { STORES } from './stores.js';

/**
 * `npm run bench:peers`: the GraphQL mutation through Hive Gateway and through this gateway,
 * over the same simulator. Options as `--duration=6 --warmup=2 --latency=0 --concurrency=1,16,64
 * --store=sqlite` or BENCH_DURATION, BENCH_WARMUP, BENCH_LATENCY_MS, BENCH_CONCURRENCY,
 * BENCH_STORE. Exits with 1 when any answer was not a success or any run got no answer.
 */
const RESULTS_FILE = 'bench/results/peers-latest.json';
const args = parseOptionArgs(['duration', 'warmup', 'latency', 'concurrency', 'store']);
const options = {
  concurrencies: concurrencyOption(args),
  durationSeconds: numberOption(args, 'duration', 'BENCH_DURATION', 6),
  warmupSeconds: numberOption(args, 'warmup', 'BENCH_WARMUP', 2),
  upstreamLatencyMs: numberOption(args, 'latency', 'BENCH_LATENCY_MS', 0),
};
const store = choiceOption(args, 'store', 'BENCH_STORE', STORES, 'sqlite');

await installHiveGateway();
const env = await startBenchEnvironment({ upstreamLatencyMs: options.upstreamLatencyMs, store });
try {
  const hive = await startHiveGateway({
    taurusDbEndpoint: env.taurusDbEndpoint,
    iamHeaders: env.targets.upstream.headers,
    workDir: env.workDir,
  });
  try {
    const report = await runPeers(env, hive, options);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(
      `${renderPeers(report)}\nWritten to ${RESULTS_FILE}; logs in ${env.workDir}.\n`,
    );
    if (report.failedAnswers > 0 || report.unansweredRuns > 0) process.exitCode = 1;
  } finally {
    await hive.service.close();
  }
} finally {
  await env.close();
}
