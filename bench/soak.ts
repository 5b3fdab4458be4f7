import type { BenchEnvironment } from './environment.js';
import { LOCK_CHANGE_CAPACITY, runLoad } from './load.js';
import { readRssBytes } from './processes.js';
import { TARGETS, table, verdict, type TargetCheck } from './report.js';

export interface SoakOptions {
  durationSeconds: number;
  /** Requests per second, half REST PUTs and half REST GETs. */
  rate: number;
  connections: number;
  sampleSeconds: number;
}

export interface SoakSample {
  atSeconds: number;
  rssMb: number;
  /** prom-client's `nodejs_eventloop_lag_seconds`: the delay of one setImmediate at scrape time. */
  eventLoopLagMs: number;
  /** `nodejs_eventloop_lag_p99_seconds`: p99 of the loop delay since the previous scrape. */
  eventLoopP99Ms: number;
  requests: number;
  errors: number;
}

export interface SoakReport {
  date: string;
  options: SoakOptions & { upstreamLatencyMs: number };
  samples: SoakSample[];
  requests: number;
  errors: number;
  requestsPerSecond: number;
  /** Mean RSS over the first and the last window (a minute, or half of a shorter soak). */
  rssWindowSeconds: number;
  rssFirstMb: number;
  rssLastMb: number;
  rssGrowthPercent: number;
  peakRssMb: number;
  maxEventLoopP99Ms: number;
}

const MB = 1024 * 1024;
const SCRAPE_TIMEOUT_MS = 5_000;

async function scrapeEventLoop(gatewayUrl: string): Promise<{ lagMs: number; p99Ms: number }> {
  const response = await fetch(`${gatewayUrl}/metrics`, {
    signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
  });
  const text = await response.text();
  const seconds = (name: string) => {
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    if (match === null) throw new Error(`the gateway's /metrics has no ${name}`);
    return Number(match[1]) * 1000;
  };
  return {
    lagMs: seconds('nodejs_eventloop_lag_seconds'),
    p99Ms: seconds('nodejs_eventloop_lag_p99_seconds'),
  };
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/**
 * A steady rate of REST PUTs and GETs on the gateway, its RSS read from /proc and its event-loop
 * delay scraped from its own `/metrics` every few seconds, so the gateway runs unchanged.
 */
export async function runSoak(
  env: BenchEnvironment,
  options: SoakOptions & { upstreamLatencyMs: number },
): Promise<SoakReport> {
  const puts = (options.rate * options.durationSeconds) / 2;
  if (puts > LOCK_CHANGE_CAPACITY) {
    throw new Error(
      `${puts} PUTs would exhaust the ${LOCK_CHANGE_CAPACITY} lock changes the fixtures allow`,
    );
  }
  await env.resetUpstream();
  await scrapeEventLoop(env.gateway.url); // starts the first delay window with the load
  const startedAt = Date.now();
  let requests = 0;
  let errors = 0;
  let window = { requests: 0, errors: 0 };
  const samples: SoakSample[] = [];
  const sample = async () => {
    const eventLoop = await scrapeEventLoop(env.gateway.url);
    samples.push({
      atSeconds: (Date.now() - startedAt) / 1000,
      rssMb: readRssBytes(env.gateway.pid) / MB,
      eventLoopLagMs: eventLoop.lagMs,
      eventLoopP99Ms: eventLoop.p99Ms,
      ...window,
    });
    window = { requests: 0, errors: 0 };
  };
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(sample);
  }, options.sampleSeconds * 1000);
  try {
    await runLoad(env.targets.gateway, ['put', 'get'], {
      connections: options.connections,
      durationSeconds: options.durationSeconds,
      overallRate: options.rate,
      onResponse: (ok) => {
        requests += 1;
        window.requests += 1;
        if (!ok) {
          errors += 1;
          window.errors += 1;
        }
      },
    });
  } finally {
    clearInterval(timer);
    await sampling;
  }
  const rssWindowSeconds = Math.min(60, options.durationSeconds / 2);
  const rssIn = (from: number, to: number) =>
    mean(
      samples
        .filter((sample) => sample.atSeconds > from && sample.atSeconds <= to)
        .map((s) => s.rssMb),
    );
  const elapsed = samples.at(-1)?.atSeconds ?? 0;
  const rssFirstMb = rssIn(0, rssWindowSeconds);
  const rssLastMb = rssIn(elapsed - rssWindowSeconds, elapsed);
  return {
    date: new Date(startedAt).toISOString(),
    options,
    samples,
    requests,
    errors,
    requestsPerSecond: requests / ((Date.now() - startedAt) / 1000),
    rssWindowSeconds,
    rssFirstMb,
    rssLastMb,
    rssGrowthPercent: (100 * (rssLastMb - rssFirstMb)) / rssFirstMb,
    peakRssMb: Math.max(...samples.map((s) => s.rssMb)),
    maxEventLoopP99Ms: Math.max(...samples.map((s) => s.eventLoopP99Ms)),
  };
}

export function checkSoakTargets(report: SoakReport): TargetCheck[] {
  return [
    {
      target: `RSS growth over the soak ≤ ${TARGETS.soakRssGrowthPercent} %`,
      measured:
        `${report.rssGrowthPercent.toFixed(1)} % (${report.rssFirstMb.toFixed(0)} → ` +
        `${report.rssLastMb.toFixed(0)} MB, first vs last ${report.rssWindowSeconds} s)`,
      met: report.rssGrowthPercent <= TARGETS.soakRssGrowthPercent,
    },
    {
      target: `peak RSS ≤ ${TARGETS.peakRssMb} MB`,
      measured: `${report.peakRssMb.toFixed(0)} MB`,
      met: report.peakRssMb <= TARGETS.peakRssMb,
    },
  ];
}

export function renderSoak(report: SoakReport): string {
  const { options } = report;
  return [
    `### Soak ${report.date}`,
    '',
    `${options.durationSeconds} s at ${options.rate} req/s (REST PUT and GET alternating, ` +
      `${options.connections} connections), upstream latency ${options.upstreamLatencyMs} ms: ` +
      `${report.requests} requests (${report.requestsPerSecond.toFixed(0)}/s), ` +
      `${report.errors} errors, worst event-loop p99 ${report.maxEventLoopP99Ms.toFixed(1)} ms.`,
    '',
    table(
      ['t s', 'RSS MB', 'loop lag ms', 'loop p99 ms', 'requests', 'errors'],
      report.samples.map((s) => [
        s.atSeconds.toFixed(0),
        s.rssMb.toFixed(1),
        s.eventLoopLagMs.toFixed(2),
        s.eventLoopP99Ms.toFixed(2),
        String(s.requests),
        String(s.errors),
      ]),
    ),
    '',
    table(
      ['target', 'measured', 'verdict'],
      checkSoakTargets(report).map((check) => [check.target, check.measured, verdict(check.met)]),
    ),
    '',
  ].join('\n');
}
