import { cpus, loadavg, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CpuProfiles } from './cpu-profiles.js';
import type { BenchEnvironment, TargetName } from './environment.js';
import { runLoad, type LoadResult, type Operation, type Target } from './load.js';
import { readPeakRssBytes, sampleResources } from './processes.js';
import type { Store } from './stores.js';

export interface Scenario {
  name: string;
  target: TargetName;
  operation: Operation;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'REST PUT', target: 'gateway', operation: 'put' },
  { name: 'GraphQL mutation', target: 'gateway', operation: 'graphql' },
  { name: 'REST GET lock', target: 'gateway', operation: 'get' },
  { name: 'reference PUT', target: 'reference', operation: 'put' },
  { name: 'reference GET', target: 'reference', operation: 'get' },
  { name: 'upstream PUT', target: 'upstream', operation: 'put' },
  { name: 'upstream GET', target: 'upstream', operation: 'get' },
];

/** The reference proxy has no GraphQL: the mutation is held against its PUT, which does the same. */
const referenceOperation: Record<Operation, Operation> = { put: 'put', graphql: 'put', get: 'get' };

export interface BenchOptions {
  concurrencies: number[];
  durationSeconds: number;
  /** Unmeasured load per scenario before the runs, so the JIT has compiled the hot paths. */
  warmupSeconds: number;
  /** Names from SCENARIOS; all of them when absent. */
  scenarios?: string[];
}

export interface RunReport extends LoadResult {
  scenario: string;
  target: TargetName;
  operation: Operation;
  connections: number;
  /** Sampled from /proc during the run; gateway runs only. */
  gateway?: { peakRssMb: number; cpuPercent: number };
  /** The gateway's CPU profile over this run, with `--cpu-prof`. */
  cpuProfile?: string;
}

export interface Comparison {
  scenario: string;
  connections: number;
  /** Gateway req/s over the reference proxy's, same operation (the mutation against its PUT). */
  ratioToReference?: number;
  /** Gateway p50 minus the p50 of TaurusDB's own call, in ms. */
  addedP50Ms?: number;
  /**
   * The reference proxy's p50 minus TaurusDB's, same operation and concurrency: what a bare
   * proxy adds on this machine, the floor the gateway's figure is read against.
   */
  referenceAddedP50Ms?: number;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  /** One-minute load average when the run started: anything else busy skews every figure. */
  loadAverageAtStart: number;
}

export function describeMachine(loadAverageAtStart: number): Machine {
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 1024 / MB),
    node: process.version,
    loadAverageAtStart,
  };
}

export interface BenchReport {
  date: string;
  machine: Machine;
  options: BenchOptions & { upstreamLatencyMs: number };
  /** Where the gateway kept its state. */
  store: Store;
  /** Whether the gateway traced, and the spans it exported over the whole run. */
  tracing: { on: boolean; spansExported: number };
  gatewayReadyMs: number;
  /** High-water mark of the gateway's RSS over the whole run. */
  gatewayPeakRssMb: number;
  iamExchanges: { gateway: number; reference: number; total: number };
  runs: RunReport[];
  comparisons: Comparison[];
}

const MB = 1024 * 1024;

export function selectScenarios(names?: string[]): Scenario[] {
  if (names === undefined) return [...SCENARIOS];
  return names.map((name) => {
    const scenario = SCENARIOS.find((candidate) => candidate.name === name);
    if (scenario === undefined) {
      throw new Error(
        `unknown scenario ${name}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
      );
    }
    return scenario;
  });
}

export interface LoadRun {
  target: Target;
  operation: Operation;
  connections: number;
  durationSeconds: number;
  /** The process that serves the target, sampled from /proc during the run when given. */
  pid?: number;
  /** A CPU profile of the gateway over the run, written under this name. */
  profile?: { profiles: CpuProfiles; name: string };
}

/**
 * One run of one operation on a target. The simulator's locks are cleared first, so that every
 * PUT of the run succeeds.
 */
export async function measureLoad(
  env: Pick<BenchEnvironment, 'resetUpstream'>,
  run: LoadRun,
): Promise<
  LoadResult & { process?: { peakRssMb: number; cpuPercent: number }; cpuProfile?: string }
> {
  await env.resetUpstream();
  const resources = run.pid === undefined ? undefined : sampleResources(run.pid);
  run.profile?.profiles.start();
  const load = await runLoad(run.target, [run.operation], {
    connections: run.connections,
    durationSeconds: run.durationSeconds,
  });
  const use = resources?.stop();
  const cpuProfile = await run.profile?.profiles.stop(run.profile.name);
  // Requests cut off when the run ended are still being served; let them finish before the
  // locks are cleared for the next run.
  await sleep(Math.min(5_000, Math.max(250, 3 * load.latencyMs.max)));
  return {
    ...load,
    ...(use && { process: { peakRssMb: use.peakRssBytes / MB, cpuPercent: use.cpuPercent } }),
    ...(cpuProfile && { cpuProfile }),
  };
}

/**
 * Every scenario at every concurrency, the scenarios of one concurrency back to back so that
 * the gateway and TaurusDB alone are compared under the same conditions.
 */
export async function runBenchmark(
  env: BenchEnvironment,
  options: BenchOptions & { upstreamLatencyMs: number },
): Promise<BenchReport> {
  const scenarios = selectScenarios(options.scenarios);
  const loadAverageAtStart = loadavg()[0];
  const iamExchanges = { gateway: 0, reference: 0, total: 0 };
  const measure = async (
    scenario: Scenario,
    connections: number,
    durationSeconds: number,
    profiled = false,
  ) => {
    const exchangesBefore = env.iamExchanges();
    const profiles = profiled && scenario.target === 'gateway' ? env.cpuProfiles : undefined;
    const { process: gateway, ...load } = await measureLoad(env, {
      target: env.targets[scenario.target],
      operation: scenario.operation,
      connections,
      durationSeconds,
      pid: scenario.target === 'gateway' ? env.gateway.pid : undefined,
      profile: profiles && { profiles, name: `${scenario.name} c${connections}` },
    });
    if (scenario.target !== 'upstream') {
      iamExchanges[scenario.target] += env.iamExchanges() - exchangesBefore;
    }
    return {
      ...load,
      scenario: scenario.name,
      target: scenario.target,
      operation: scenario.operation,
      connections,
      ...(gateway && { gateway }),
    };
  };

  if (options.warmupSeconds > 0) {
    for (const scenario of scenarios) {
      await measure(scenario, Math.max(...options.concurrencies), options.warmupSeconds);
    }
  }
  const runs: RunReport[] = [];
  for (const connections of options.concurrencies) {
    for (const scenario of scenarios) {
      runs.push(await measure(scenario, connections, options.durationSeconds, true));
    }
  }
  iamExchanges.total = env.iamExchanges();
  return {
    date: new Date().toISOString(),
    machine: describeMachine(loadAverageAtStart),
    options,
    store: env.store,
    tracing: { on: env.tracing, spansExported: env.spansExported() },
    gatewayReadyMs: env.gatewayReadyMs,
    gatewayPeakRssMb: readPeakRssBytes(env.gateway.pid) / MB,
    iamExchanges,
    runs,
    comparisons: compare(runs),
  };
}

function compare(runs: RunReport[]): Comparison[] {
  const find = (target: TargetName, operation: Operation, connections: number) =>
    runs.find(
      (run) =>
        run.target === target && run.operation === operation && run.connections === connections,
    );
  return runs
    .filter((run) => run.target === 'gateway')
    .map((run) => {
      const reference = find('reference', referenceOperation[run.operation], run.connections);
      const upstream = find('upstream', referenceOperation[run.operation], run.connections);
      return {
        scenario: run.scenario,
        connections: run.connections,
        ratioToReference: reference && run.requestsPerSecond / reference.requestsPerSecond,
        addedP50Ms: upstream && run.latencyMs.p50 - upstream.latencyMs.p50,
        referenceAddedP50Ms:
          reference && upstream && reference.latencyMs.p50 - upstream.latencyMs.p50,
      };
    });
}
