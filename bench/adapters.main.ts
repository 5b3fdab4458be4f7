import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { lockPath } from '../test/support/clients.js';
import { runLoad, type LoadResult, type Target } from './load.js';
import { numberOption, parseOptionArgs } from './options.js';
import { describeMachine } from './benchmark.js';
import { sampleResources, spawnListeningChild, type ChildService } from './processes.js';
import { table } from './report.js';

/**
 * `npm run bench:adapters`: the gateway's PUT (its DTOs, its validation pipe, a header guard, no
 * upstream) on Nest's Fastify adapter and on its Express adapter, with bare node:http as the
 * floor. Options `--duration=5 --warmup=2` or BENCH_DURATION, BENCH_WARMUP.
 */
const SERVERS = ['fastify', 'express', 'node:http'] as const;
type ServerKind = (typeof SERVERS)[number];
const CONCURRENCIES = [1, 16, 64];
const RESULTS_FILE = 'bench/results/adapters-latest.json';

interface AdapterRun extends LoadResult {
  server: ServerKind;
  connections: number;
  /** Of one core, sampled from /proc: near 100 means the server, not the load, is the limit. */
  serverCpuPercent: number;
  /** This run's req/s over Fastify's at the same concurrency. */
  ratioToFastify: number;
}

interface RunningServer {
  kind: ServerKind;
  target: Target;
  child: ChildService;
}

async function startServer(kind: ServerKind, logDir: string): Promise<RunningServer> {
  const child = await spawnListeningChild(
    `${kind} server`,
    fileURLToPath(new URL('./adapters.server.js', import.meta.url)),
    { NODE_ENV: 'production', BENCH_SERVER: kind },
    join(logDir, `${kind.replace(':', '-')}.log`),
  );
  const target: Target = {
    url: child.url,
    // Only a shape for the guard to check; no server here verifies it.
    headers: { authorization: 'Bearer adapter-bench' },
    lockPath: (instance) => `${lockPath(instance.projectId, instance.id)}?dry_run=false`,
  };
  return { kind, target, child };
}

async function measure(server: RunningServer, connections: number, durationSeconds: number) {
  const resources = sampleResources(server.child.pid);
  const load = await runLoad(server.target, ['put'], { connections, durationSeconds });
  const { cpuPercent } = resources.stop();
  // Requests cut off at the end are still being answered; they must not eat into the next run.
  await sleep(250);
  return { ...load, server: server.kind, connections, serverCpuPercent: cpuPercent };
}

const args = parseOptionArgs(['duration', 'warmup']);
const options = {
  concurrencies: CONCURRENCIES,
  durationSeconds: numberOption(args, 'duration', 'BENCH_DURATION', 5),
  warmupSeconds: numberOption(args, 'warmup', 'BENCH_WARMUP', 2),
};
const loadAverageAtStart = loadavg()[0];
const logDir = mkdtempSync(join(tmpdir(), 'vlg-adapters-'));
const servers: RunningServer[] = [];
const runs: AdapterRun[] = [];
try {
  for (const kind of SERVERS) servers.push(await startServer(kind, logDir));
  if (options.warmupSeconds > 0) {
    for (const server of servers) {
      await measure(server, Math.max(...CONCURRENCIES), options.warmupSeconds);
    }
  }
  // All servers at one concurrency back to back, so a change in the machine's load between
  // concurrencies shifts them alike and the ratios stay comparable.
  for (const connections of CONCURRENCIES) {
    const atConcurrency: Omit<AdapterRun, 'ratioToFastify'>[] = [];
    for (const server of servers) {
      atConcurrency.push(await measure(server, connections, options.durationSeconds));
    }
    const fastify = atConcurrency.find((run) => run.server === 'fastify');
    for (const run of atConcurrency) {
      runs.push({ ...run, ratioToFastify: run.requestsPerSecond / fastify!.requestsPerSecond });
    }
  }
} finally {
  await Promise.all(servers.map((server) => server.child.close()));
}

const report = {
  date: new Date().toISOString(),
  machine: { ...describeMachine(loadAverageAtStart), loadAverageAtEnd: loadavg()[0] },
  options,
  runs,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);

const fixed = (value: number, digits = 2) => value.toFixed(digits);
process.stdout.write(
  [
    `### Nest adapters ${report.date}`,
    '',
    `${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, load ` +
      `average ${fixed(loadAverageAtStart, 1)} at start, ${fixed(report.machine.loadAverageAtEnd, 1)} ` +
      `at end; ${options.durationSeconds} s per run after ${options.warmupSeconds} s of warm-up ` +
      `per server. REST PUT with the gateway's DTOs and validation pipe, no upstream.`,
    '',
    table(
      ['server', 'c', 'req/s', '÷ Fastify req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU %'],
      runs.map((run) => [
        run.server,
        String(run.connections),
        fixed(run.requestsPerSecond, 0),
        fixed(run.ratioToFastify),
        fixed(run.latencyMs.p50),
        fixed(run.latencyMs.p99),
        String(run.errors.total),
        fixed(run.serverCpuPercent, 0),
      ]),
    ),
    '',
    `Written to ${RESULTS_FILE}; server logs in ${logDir}.`,
    '',
  ].join('\n'),
);
