import type { BenchReport, Machine } from './benchmark.js';
import type { LoadResult } from './load.js';
import type { Store } from './stores.js';

/** A target of issue 3, checked against one run's figures. */
export interface TargetCheck {
  target: string;
  measured: string;
  /** Undefined when the run did not measure it (a scenario or concurrency left out). */
  met?: boolean;
}

const STORE_DESCRIPTIONS: Record<Store, string> = {
  sqlite: 'audit in SQLite, shared state in memory',
  postgres: 'audit in PostgreSQL, shared state in Redis',
};

export const fixed = (value: number | undefined, digits = 2) =>
  value === undefined ? '—' : value.toFixed(digits);

export const TARGETS = {
  restThroughputRatio: 0.6,
  graphqlThroughputRatio: 0.45,
  restAddedP50Ms: 1.5,
  graphqlAddedP50Ms: 2.5,
  addedLatencyConcurrency: 16,
  peakRssMb: 200,
  readyMs: 2000,
  soakRssGrowthPercent: 10,
} as const;

export function checkTargets(report: BenchReport): TargetCheck[] {
  const comparisons = (scenario: string) =>
    report.comparisons.filter((comparison) => comparison.scenario === scenario);
  const ratio = (scenario: string, goal: number): TargetCheck => {
    const ratios = comparisons(scenario).filter((c) => c.ratioToReference !== undefined);
    return {
      target: `${scenario} throughput ≥ ${goal} × reference`,
      measured: ratios.map((c) => `${fixed(c.ratioToReference)} (c=${c.connections})`).join(', '),
      met: ratios.length === 0 ? undefined : ratios.every((c) => c.ratioToReference! >= goal),
    };
  };
  const added = (scenario: string, goal: number): TargetCheck => {
    const at = comparisons(scenario).find(
      (c) => c.connections === TARGETS.addedLatencyConcurrency && c.addedP50Ms !== undefined,
    );
    return {
      target: `${scenario} added p50 at c=${TARGETS.addedLatencyConcurrency} ≤ ${goal} ms`,
      measured: at ? `${fixed(at.addedP50Ms)} ms` : '—',
      met: at && at.addedP50Ms! <= goal,
    };
  };
  const gatewayRuns = report.runs.filter((run) => run.gateway !== undefined);
  const peakRss = Math.max(...gatewayRuns.map((run) => run.gateway!.peakRssMb));
  return [
    ratio('REST PUT', TARGETS.restThroughputRatio),
    ratio('GraphQL mutation', TARGETS.graphqlThroughputRatio),
    added('REST PUT', TARGETS.restAddedP50Ms),
    added('GraphQL mutation', TARGETS.graphqlAddedP50Ms),
    {
      target: 'one IAM exchange per principal and project (the gateway has one of each)',
      measured: String(report.iamExchanges.gateway),
      met: report.iamExchanges.gateway === 1,
    },
    {
      target: `gateway peak RSS under load ≤ ${TARGETS.peakRssMb} MB`,
      measured: `${fixed(peakRss, 0)} MB (high-water mark ${fixed(report.gatewayPeakRssMb, 0)} MB)`,
      met: gatewayRuns.length === 0 ? undefined : peakRss <= TARGETS.peakRssMb,
    },
    {
      target: `ready within ${TARGETS.readyMs} ms of start`,
      measured: `${fixed(report.gatewayReadyMs, 0)} ms`,
      met: report.gatewayReadyMs <= TARGETS.readyMs,
    },
  ];
}

export const verdict = (met: boolean | undefined) =>
  met === undefined ? 'not measured' : met ? 'met' : 'MISSED';

/** The machine and how busy it was, the start of every report's description. */
export const machineLine = (machine: Machine): string =>
  `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, Node ${machine.node}, ` +
  `load average ${machine.loadAverageAtStart.toFixed(1)} at start`;

export function table(header: string[], rows: string[][]): string {
  return [header, header.map(() => '---'), ...rows]
    .map((cells) => `| ${cells.join(' | ')} |`)
    .join('\n');
}

/** The columns of one load run, after its name and concurrency. */
export const LOAD_COLUMNS = ['req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors'] as const;

/** One load run as a table row: name, concurrency, the load columns, then RSS and CPU. */
export function loadRow(
  name: string,
  run: LoadResult & { connections: number },
  process: { peakRssMb: number; cpuPercent: number } | undefined,
): string[] {
  return [
    name,
    String(run.connections),
    fixed(run.requestsPerSecond, 0),
    fixed(run.latencyMs.p50),
    fixed(run.latencyMs.p99),
    fixed(run.latencyMs.max),
    String(run.errors.total),
    fixed(process?.peakRssMb, 0),
    fixed(process?.cpuPercent, 0),
  ];
}

export function renderBenchmark(report: BenchReport): string {
  const { machine, options } = report;
  return [
    `### Benchmark ${report.date}`,
    '',
    `${machineLine(machine)}; ${options.durationSeconds} s per run after ${options.warmupSeconds} s of warm-up per ` +
      `scenario; upstream latency ${options.upstreamLatencyMs} ms; ` +
      `${STORE_DESCRIPTIONS[report.store]}; ` +
      (report.tracing.on
        ? `tracing on (${report.tracing.spansExported} spans exported over OTLP/HTTP).`
        : 'tracing off.'),
    '',
    table(
      ['scenario', 'c', ...LOAD_COLUMNS, 'gateway RSS MB', 'gateway CPU %'],
      report.runs.map((run) => loadRow(run.scenario, run, run.gateway)),
    ),
    '',
    table(
      [
        'gateway scenario',
        'c',
        'gateway / reference req/s',
        'added p50 ms',
        'reference added p50 ms',
      ],
      report.comparisons.map((c) => [
        c.scenario,
        String(c.connections),
        fixed(c.ratioToReference),
        fixed(c.addedP50Ms),
        fixed(c.referenceAddedP50Ms),
      ]),
    ),
    '',
    `Gateway ready ${fixed(report.gatewayReadyMs, 0)} ms after spawn. IAM exchanges: gateway ` +
      `${report.iamExchanges.gateway}, reference ${report.iamExchanges.reference}, all callers ` +
      `${report.iamExchanges.total}.`,
    '',
    table(
      ['target', 'measured', 'verdict'],
      checkTargets(report).map((check) => [check.target, check.measured, verdict(check.met)]),
    ),
    '',
  ].join('\n');
}
