import { loadavg } from 'node:os';
import { describeMachine, measureLoad, type Machine } from './benchmark.js';
import type { BenchEnvironment } from './environment.js';
import type { RunningHiveGateway } from './hive-gateway.js';
import type { LoadResult, Target } from './load.js';
import { fixed, LOAD_COLUMNS, loadRow, machineLine, table, verdict } from './report.js';
import type { Store } from './stores.js';

export const PEERS = ['Hive Gateway', 'this gateway'] as const;
export type Peer = (typeof PEERS)[number];

/** The target: this gateway's GraphQL mutation at least as fast as Hive's at these. */
export const PEER_TARGET = { throughputRatio: 1.0, concurrencies: [16, 64] } as const;

export interface PeerOptions {
  concurrencies: number[];
  durationSeconds: number;
  /** Unmeasured load per peer before the runs, so the JIT has compiled the hot paths. */
  warmupSeconds: number;
  upstreamLatencyMs: number;
}

export interface PeerRun extends LoadResult {
  peer: Peer;
  connections: number;
  /** The peer's process, sampled from /proc during the run. */
  process: { peakRssMb: number; cpuPercent: number };
}

export interface PeerComparison {
  connections: number;
  /** This gateway's figure over Hive Gateway's; absent when either run got no answer. */
  throughputRatio?: number;
  p50Ratio?: number;
  p99Ratio?: number;
}

export interface PeersReport {
  date: string;
  machine: Machine & { loadAverageAtEnd: number };
  options: PeerOptions;
  store: Store;
  hiveVersion: string;
  hiveReadyMs: number;
  gatewayReadyMs: number;
  runs: PeerRun[];
  comparisons: PeerComparison[];
  /** Answers that were not a 2xx with `"result":"success"` and no GraphQL errors, all runs. */
  failedAnswers: number;
  /** Runs that got no answer at all within their duration: they prove nothing. */
  unansweredRuns: number;
}

/**
 * The GraphQL mutation through Hive Gateway and through this gateway, one after the other at each
 * concurrency, so that a change in the machine's load between concurrencies shifts both alike.
 * Each run starts on cleared locks and asks for the same lock changes of the same instances.
 */
export async function runPeers(
  env: BenchEnvironment,
  hive: RunningHiveGateway,
  options: PeerOptions,
): Promise<PeersReport> {
  const loadAverageAtStart = loadavg()[0];
  const peers: Record<Peer, { target: Target; pid: number }> = {
    'Hive Gateway': { target: hive.target, pid: hive.service.pid },
    'this gateway': { target: env.targets.gateway, pid: env.gateway.pid },
  };
  const measure = async (peer: Peer, connections: number, durationSeconds: number) => {
    const { process, ...load } = await measureLoad(env, {
      ...peers[peer],
      operation: 'graphql',
      connections,
      durationSeconds,
    });
    return { ...load, peer, connections, process: process! };
  };

  if (options.warmupSeconds > 0) {
    for (const peer of PEERS) {
      await measure(peer, Math.max(...options.concurrencies), options.warmupSeconds);
    }
  }
  const runs: PeerRun[] = [];
  for (const connections of options.concurrencies) {
    for (const peer of PEERS) runs.push(await measure(peer, connections, options.durationSeconds));
  }
  return {
    date: new Date().toISOString(),
    machine: { ...describeMachine(loadAverageAtStart), loadAverageAtEnd: loadavg()[0] },
    options,
    store: env.store,
    hiveVersion: hive.version,
    hiveReadyMs: hive.service.readyMs,
    gatewayReadyMs: env.gatewayReadyMs,
    runs,
    comparisons: options.concurrencies.map((connections) => {
      const [hiveRun, gatewayRun] = PEERS.map((peer) =>
        runs.find((run) => run.peer === peer && run.connections === connections)!,
      );
      if (hiveRun.requests === 0 || gatewayRun.requests === 0) return { connections };
      return {
        connections,
        throughputRatio: gatewayRun.requestsPerSecond / hiveRun.requestsPerSecond,
        p50Ratio: gatewayRun.latencyMs.p50 / hiveRun.latencyMs.p50,
        p99Ratio: gatewayRun.latencyMs.p99 / hiveRun.latencyMs.p99,
      };
    }),
    failedAnswers: runs.reduce((sum, run) => sum + run.errors.total, 0),
    unansweredRuns: runs.filter((run) => run.requests === 0).length,
  };
}

/** Met when every concurrency of the target was measured and met, missed when any missed. */
function checkPeerTarget(report: PeersReport): { measured: string; met?: boolean } {
  const measured: { connections: number; ratio: number }[] = [];
  for (const connections of PEER_TARGET.concurrencies) {
    const ratio = report.comparisons.find((c) => c.connections === connections)?.throughputRatio;
    if (ratio !== undefined) measured.push({ connections, ratio });
  }
  const missed = measured.some(({ ratio }) => ratio < PEER_TARGET.throughputRatio);
  const complete = measured.length === PEER_TARGET.concurrencies.length;
  return {
    measured: measured.map((m) => `${fixed(m.ratio)} (c=${m.connections})`).join(', ') || '—',
    met: missed ? false : complete ? true : undefined,
  };
}

export function renderPeers(report: PeersReport): string {
  const { machine, options } = report;
  const target = checkPeerTarget(report);
  const failures = [
    report.failedAnswers > 0 && `${report.failedAnswers} answers were not a success`,
    report.unansweredRuns > 0 && `${report.unansweredRuns} runs got no answer`,
  ].filter(Boolean);
  return [
    `### Hive Gateway side by side ${report.date}`,
    '',
    `${machineLine(machine)}, ${machine.loadAverageAtEnd.toFixed(1)} at end; ` +
      `${options.durationSeconds} s per run after ${options.warmupSeconds} s of warm-up per ` +
      `peer; upstream latency ${options.upstreamLatencyMs} ms; Hive Gateway ` +
      `${report.hiveVersion} (ready ${fixed(report.hiveReadyMs, 0)} ms after spawn); this ` +
      `gateway ready ${fixed(report.gatewayReadyMs, 0)} ms after spawn.`,
    '',
    table(
      ['GraphQL mutation', 'c', ...LOAD_COLUMNS, 'RSS MB', 'CPU %'],
      report.runs.map((run) => loadRow(run.peer, run, run.process)),
    ),
    '',
    table(
      ['c', 'gateway / Hive req/s', 'gateway / Hive p50', 'gateway / Hive p99'],
      report.comparisons.map((c) => [
        String(c.connections),
        fixed(c.throughputRatio),
        fixed(c.p50Ratio),
        fixed(c.p99Ratio),
      ]),
    ),
    '',
    table(
      ['target', 'measured', 'verdict'],
      [
        [
          `GraphQL mutation ≥ ${PEER_TARGET.throughputRatio.toFixed(1)} × Hive Gateway at ` +
            PEER_TARGET.concurrencies.map((c) => `c=${c}`).join(' and '),
          target.measured,
          verdict(target.met),
        ],
      ],
    ),
    '',
    failures.length === 0
      ? 'Every answer was a success.'
      : `${failures.join('; ')}: the figures do not compare like with like.`,
    '',
  ].join('\n');
}
