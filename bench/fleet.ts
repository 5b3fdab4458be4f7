import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { FLEET_INSTANCES, PROJECTS } from '../src/simulator/fixtures.js';
import type { RouteName } from '../src/simulator/route-names.js';
import { describeMachine, type Machine } from './benchmark.js';
import type { BenchEnvironment } from './environment.js';
import { sampleResources } from './processes.js';
import { machineLine, table, TARGETS, verdict } from './report.js';

/** The whole-fleet scenarios: one pass each over the fleet fixture, timed from first call to last answer. */
export const FLEET_SCENARIOS = ['fleet 500', 'bulk dry run 500'] as const;
export type FleetScenario = (typeof FLEET_SCENARIOS)[number];

/** The upstream calls the whole-fleet target is reckoned on: the list pages and one lock read per instance. */
const DELAYED_ROUTES = ['taurusdb.listInstances', 'taurusdb.getLock'] as const;
const COUNTED_ROUTES: readonly RouteName[] = [...DELAYED_ROUTES, 'taurusdb.instance'];
const FLEET_PAGE_LIMIT = 100;
const BULK_POLL_MS = 100;
/**
 * The first pass meets a cold gateway (its IAM token not yet exchanged, its code not yet
 * compiled); the second shows it warm. Both are recorded.
 */
const FLEET_PASSES = 2;
const MB = 1024 * 1024;
/** Each whole-fleet pass may take this many times what its upstream calls alone need. */
const FLEET_TIME_FACTOR = 1.5;

export interface FleetOptions {
  scenarios: FleetScenario[];
  /** Fixed delay on the list call and the lock read. */
  upstreamLatencyMs: number;
  /** The gateway's FLEET_CONCURRENCY and BULK_CONCURRENCY for this run. */
  fleetConcurrency: number;
  bulkConcurrency: number;
}

export interface FleetRunReport {
  scenario: FleetScenario;
  /** 1 on a cold gateway, then 2. */
  pass: number;
  instances: number;
  concurrency: number;
  wallMs: number;
  /** Gateway requests the pass made: fleet pages, or the job's creation and its polls. */
  gatewayRequests: number;
  upstreamCalls: Partial<Record<RouteName, number>>;
  /** instances × latency / concurrency plus one latency per list page. */
  upstreamAloneMs: number;
  targetMs: number;
  /** Fleet: instances whose lock could not be read; bulk: items that FAILED. */
  failures: number;
  /** Bulk only: how many items ended in each state. */
  itemStates?: Record<string, number>;
  peakRssMb: number;
  cpuPercent: number;
}

export interface FleetReport {
  date: string;
  machine: Machine;
  options: FleetOptions;
  runs: FleetRunReport[];
}

/** The names that are whole-fleet scenarios, and the rest as given (undefined when none were given). */
export function splitScenarios(
  names: string[] | undefined,
  loadScenarios: readonly string[],
): { load: string[] | undefined; fleet: FleetScenario[] } {
  if (names === undefined) return { load: undefined, fleet: [...FLEET_SCENARIOS] };
  const known = [...loadScenarios, ...FLEET_SCENARIOS];
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${known.join(', ')}`);
  }
  const isFleet = (name: string): name is FleetScenario =>
    (FLEET_SCENARIOS as readonly string[]).includes(name);
  return { load: names.filter((name) => !isFleet(name)), fleet: names.filter(isFleet) };
}

async function getJson<T>(url: string, init: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  const body = (await response.json()) as T;
  if (!response.ok) {
    throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${JSON.stringify(body)}`);
  }
  return body;
}

interface FleetPage {
  instances: { lock: unknown; lock_error: string | null }[];
  next_cursor: string | null;
}

/** Every page of the fleet as an auditor, who may see every instance. */
interface Pass {
  instances: number;
  failures: number;
  requests: number;
  itemStates?: Record<string, number>;
}

async function readFleet(env: BenchEnvironment): Promise<Pass> {
  const headers = {
    authorization: `Bearer ${await env.simulator.mintToken({ sub: 'bench-fleet', groups: ['auditor'] })}`,
  };
  const base = `${env.gateway.url}/v1/projects/${PROJECTS.cnNorth4Fleet.id}/fleet?limit=${FLEET_PAGE_LIMIT}`;
  let instances = 0;
  let failures = 0;
  let requests = 0;
  let cursor: string | null = null;
  do {
    const url: string = cursor === null ? base : `${base}&cursor=${encodeURIComponent(cursor)}`;
    const page: FleetPage = await getJson<FleetPage>(url, { headers });
    requests += 1;
    instances += page.instances.length;
    failures += page.instances.filter((i) => i.lock === null || i.lock_error !== null).length;
    cursor = page.next_cursor;
  } while (cursor !== null);
  return { instances, failures, requests };
}

interface BulkJob {
  id: string;
  state: string;
  total: number;
  done: number;
  items: { state: string }[];
}

/** A dry run over every instance of the fleet (an empty selector), polled until it has finished. */
async function dryRunFleet(env: BenchEnvironment): Promise<Pass> {
  const headers = {
    authorization: `Bearer ${await env.simulator.mintToken({ sub: 'bench-bulk', groups: ['dba'] })}`,
    'content-type': 'application/json',
  };
  const accepted = await getJson<{ id: string }>(`${env.gateway.url}/v1/bulk-locks`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      project_id: PROJECTS.cnNorth4Fleet.id,
      selector: {},
      action: 'enable',
      lock_retention_days: 30,
      dry_run: true,
    }),
  });
  let requests = 1;
  for (;;) {
    const job = await getJson<BulkJob>(`${env.gateway.url}/v1/bulk-locks/${accepted.id}`, {
      headers,
    });
    requests += 1;
    if (job.state === 'FINISHED') {
      const itemStates: Record<string, number> = {};
      for (const item of job.items) itemStates[item.state] = (itemStates[item.state] ?? 0) + 1;
      return { instances: job.total, failures: itemStates.FAILED ?? 0, requests, itemStates };
    }
    await sleep(BULK_POLL_MS);
  }
}

/**
 * Each whole-fleet scenario, FLEET_PASSES times, on a simulator whose list call and lock read take
 * `upstreamLatencyMs`, with the gateway's RSS and CPU sampled during it. The gateway must run
 * with FLEET_LOCK_CACHE_MS=0 so that every lock is read, and with the concurrencies given.
 */
export async function runFleetScenarios(
  env: BenchEnvironment,
  options: FleetOptions,
): Promise<FleetReport> {
  const machine = describeMachine(loadavg()[0]);
  const runs: FleetRunReport[] = [];
  for (const scenario of options.scenarios) {
    for (let pass = 1; pass <= FLEET_PASSES; pass += 1) {
      runs.push(await runPass(env, options, scenario, pass));
    }
  }
  return { date: new Date().toISOString(), machine, options, runs };
}

async function runPass(
  env: BenchEnvironment,
  options: FleetOptions,
  scenario: FleetScenario,
  pass: number,
): Promise<FleetRunReport> {
  await env.resetUpstream({ routes: DELAYED_ROUTES, latencyMs: options.upstreamLatencyMs });
  const concurrency = scenario === 'fleet 500' ? options.fleetConcurrency : options.bulkConcurrency;
  const resources = sampleResources(env.gateway.pid, 50);
  const startedAt = performance.now();
  const done = scenario === 'fleet 500' ? await readFleet(env) : await dryRunFleet(env);
  const wallMs = performance.now() - startedAt;
  const use = resources.stop();
  const calls = env.simulator.calls();
  const upstreamCalls = Object.fromEntries(COUNTED_ROUTES.map((route) => [route, calls[route]]));
  const upstreamAloneMs =
    (FLEET_INSTANCES.length * options.upstreamLatencyMs) / concurrency +
    calls['taurusdb.listInstances'] * options.upstreamLatencyMs;
  return {
    scenario,
    pass,
    instances: done.instances,
    concurrency,
    wallMs,
    gatewayRequests: done.requests,
    upstreamCalls,
    upstreamAloneMs,
    targetMs: FLEET_TIME_FACTOR * upstreamAloneMs,
    failures: done.failures,
    ...(done.itemStates && { itemStates: done.itemStates }),
    peakRssMb: use.peakRssBytes / MB,
    cpuPercent: use.cpuPercent,
  };
}

export function renderFleet(report: FleetReport): string {
  const { options, machine } = report;
  const fixed = (value: number) => value.toFixed(0);
  return [
    `### Whole fleet ${report.date}`,
    '',
    `${machineLine(machine)}; ${FLEET_INSTANCES.length} instances; ${options.upstreamLatencyMs} ms on every list call and ` +
      `lock read; FLEET_CONCURRENCY ${options.fleetConcurrency}, BULK_CONCURRENCY ` +
      `${options.bulkConcurrency}, FLEET_LOCK_CACHE_MS 0.`,
    '',
    table(
      [
        'scenario',
        'pass',
        'instances',
        'concurrency',
        'wall ms',
        'gateway requests',
        'list calls',
        'lock reads',
        'details calls',
        'failures',
        'peak RSS MB',
        'CPU %',
      ],
      report.runs.map((run) => [
        run.scenario,
        String(run.pass),
        String(run.instances),
        String(run.concurrency),
        fixed(run.wallMs),
        String(run.gatewayRequests),
        String(run.upstreamCalls['taurusdb.listInstances']),
        String(run.upstreamCalls['taurusdb.getLock']),
        String(run.upstreamCalls['taurusdb.instance']),
        String(run.failures),
        fixed(run.peakRssMb),
        fixed(run.cpuPercent),
      ]),
    ),
    '',
    ...report.runs
      .filter((run) => run.itemStates !== undefined)
      .map(
        (run) =>
          `${run.scenario} pass ${run.pass} items: ` +
          Object.entries(run.itemStates!)
            .map(([state, count]) => `${state} ${count}`)
            .join(', ') +
          '.',
      ),
    '',
    table(
      ['target', 'measured', 'verdict'],
      report.runs
        .flatMap((run) => [
          {
            target:
              `${run.scenario} pass ${run.pass} ≤ ${FLEET_TIME_FACTOR} × (${FLEET_INSTANCES.length} × ` +
              `${options.upstreamLatencyMs} ms / ${run.concurrency} + ` +
              `${run.upstreamCalls['taurusdb.listInstances']} list pages) = ${fixed(run.targetMs)} ms`,
            measured: `${fixed(run.wallMs)} ms (${(run.wallMs / run.upstreamAloneMs).toFixed(2)} ×)`,
            met: run.wallMs <= run.targetMs && run.failures === 0,
          },
          {
            target: `${run.scenario} pass ${run.pass} gateway peak RSS ≤ ${TARGETS.peakRssMb} MB`,
            measured: `${fixed(run.peakRssMb)} MB`,
            met: run.peakRssMb <= TARGETS.peakRssMb,
          },
        ])
        .map((check) => [check.target, check.measured, verdict(check.met)]),
    ),
    '',
  ].join('\n');
}
