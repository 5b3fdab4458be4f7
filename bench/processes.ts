import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ReferenceProxyConfig, RunningService } from './reference-proxy.js';

export interface ChildService extends RunningService {
  pid: number;
}

/**
 * The node flags and the environment the gateway runs with in production: the Dockerfile's
 * production stage and `npm run start:prod` give the same ones. Keep the three in step.
 */
const GATEWAY_NODE_FLAGS = ['--max-old-space-size=512', '--max-semi-space-size=4'];
const GATEWAY_RUNTIME_ENV = { MALLOC_ARENA_MAX: '2' };
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const PROBE_TIMEOUT_MS = 2_000;
/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat, 100 on every Linux build in use. */
const CLOCK_TICKS_PER_SECOND = 100;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A child with only the environment it is given (plus PATH), so nothing of the parent's (a test
 * runner's NODE_OPTIONS, say) changes what is measured. `argv` is what follows `node`: its flags,
 * the script and the script's arguments. Output goes to `logFile`.
 */
function startChild(
  argv: readonly string[],
  env: Record<string, string>,
  logFile: string,
  ipc = false,
): ChildProcess {
  const log = openSync(logFile, 'a');
  return spawn(process.execPath, argv, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', log, log, ...(ipc ? (['ipc'] as const) : [])],
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT_MS, false)]);
    if (!stopped) {
      child.kill('SIGKILL');
      await exited;
    }
  };
}

function failedToStart(name: string, logFile: string, reason: string): Error {
  // The tail of the child's own output says why. The gateway never logs tokens or secrets, and
  // Hive Gateway logs no request at its default level.
  const tail = readFileSync(logFile, 'utf8').split('\n').slice(-10).join('\n');
  return new Error(`${name} ${reason} (log ${logFile}):\n${tail}`);
}

/** How to start an HTTP service on a port chosen for it. */
export interface HttpServiceStart {
  name: string;
  /** What follows `node`, and the environment, for a service to listen on `port`. */
  command(port: number): { argv: string[]; env: Record<string, string> };
  /** Answers 200 once the service is ready to serve. */
  readyPath: string;
  logFile: string;
}

/**
 * A service as its own process on a free loopback port. Resolves once `readyPath` answers 200,
 * with the time that took from spawn.
 */
export async function spawnHttpService(
  start: HttpServiceStart,
): Promise<ChildService & { readyMs: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const spawnedAt = performance.now();
  const { argv, env } = start.command(port);
  const child = startChild(argv, env, start.logFile);
  const close = stopper(child);
  while (performance.now() - spawnedAt < READY_TIMEOUT_MS) {
    if (child.exitCode !== null) {
      throw failedToStart(start.name, start.logFile, `exited with ${child.exitCode}`);
    }
    const status = await fetch(`${url}${start.readyPath}`, {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    }).then(
      (response) => response.status,
      () => undefined,
    );
    if (status === 200) {
      return { url, pid: child.pid as number, readyMs: performance.now() - spawnedAt, close };
    }
    await sleep(10);
  }
  await close();
  throw failedToStart(start.name, start.logFile, `not ready within ${READY_TIMEOUT_MS} ms`);
}

/** The built gateway (`dist/bundle/main.js`) as a production process, ready once `/health/ready` is. */
export function spawnGateway(
  env: Record<string, string>,
  logDir: string,
  extraNodeFlags: readonly string[] = [],
): Promise<ChildService & { readyMs: number }> {
  return spawnHttpService({
    name: 'gateway',
    command: (port) => ({
      argv: [...GATEWAY_NODE_FLAGS, ...extraNodeFlags, 'dist/bundle/main.js'],
      env: { ...GATEWAY_RUNTIME_ENV, ...env, PORT: String(port) },
    }),
    readyPath: '/health/ready',
    logFile: join(logDir, 'gateway.log'),
  });
}

/**
 * A child that reports `{ url }` over IPC once it listens, with only the environment it is given:
 * the reference proxy, and the servers of the adapter comparison.
 */
export async function spawnListeningChild(
  name: string,
  script: string,
  env: Record<string, string>,
  logFile: string,
): Promise<ChildService> {
  const child = startChild([script], env, logFile, true);
  const close = stopper(child);
  const started = await Promise.race([
    once(child, 'message').then(([message]) => message as { url: string }),
    once(child, 'exit').then(() => undefined),
  ]);
  if (started === undefined) throw failedToStart(name, logFile, 'exited');
  child.disconnect();
  return { url: started.url, pid: child.pid as number, close };
}

/** The reference proxy as its own process, as the gateway is, so neither shares a core with the load. */
export function spawnReferenceProxy(
  config: ReferenceProxyConfig,
  logDir: string,
): Promise<ChildService> {
  return spawnListeningChild(
    'reference proxy',
    fileURLToPath(new URL('./reference-proxy.main.js', import.meta.url)),
    {
      TAURUSDB_ENDPOINT: config.taurusDbEndpoint,
      IAM_ENDPOINT: config.iamEndpoint,
      IAM_IDP_ID: config.idpId,
      AUTH_JWKS_URL: config.jwksUrl,
      AUTH_ISSUER: config.issuer,
      AUTH_AUDIENCE: config.audience,
    },
    join(logDir, 'reference-proxy.log'),
  );
}

export interface ResourceUse {
  peakRssBytes: number;
  /** Share of one core over the sampling period, in percent. */
  cpuPercent: number;
}

/** A `kB` field of /proc/<pid>/status, in bytes. */
function readStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return Number(match?.[1] ?? NaN) * 1024;
}

export const readRssBytes = (pid: number): number => readStatusBytes(pid, 'VmRSS');

/** The high-water mark of the process's RSS since it started. */
export const readPeakRssBytes = (pid: number): number => readStatusBytes(pid, 'VmHWM');

function readCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name in parentheses may hold spaces; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Samples a process's RSS and CPU time from /proc while a run goes on. */
export function sampleResources(pid: number, intervalMs = 200): { stop(): ResourceUse } {
  const startedAt = performance.now();
  const startTicks = readCpuTicks(pid);
  let peakRssBytes = readRssBytes(pid);
  const timer = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, readRssBytes(pid));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      peakRssBytes = Math.max(peakRssBytes, readRssBytes(pid));
      const seconds = (performance.now() - startedAt) / 1000;
      const cpuSeconds = (readCpuTicks(pid) - startTicks) / CLOCK_TICKS_PER_SECOND;
      return { peakRssBytes, cpuPercent: (100 * cpuSeconds) / seconds };
    },
  };
}
