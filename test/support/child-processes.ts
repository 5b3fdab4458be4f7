import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningSimulator } from '../../src/simulator/simulator.js';
import { SERVICE_ACCOUNT_ENV } from './service-account.js';

/** The built gateway and simulator as an operator runs them: `node dist/...` in a child process. */

/** The gateway as the production image and `npm start` run it: the bundle of the build. */
export const GATEWAY_ENTRY = 'dist/bundle/main.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** A node child process; the tail of its stderr explains an unexpected exit. */
export interface Launched {
  child: ChildProcess;
  stderrTail(): string;
}

export function launch(
  script: string,
  env: Record<string, string>,
  options: { stdout?: 'pipe' | 'ignore'; cwd?: string; nodeOptions?: string[] } = {},
): Launched {
  const child = spawn(process.execPath, [...(options.nodeOptions ?? []), script], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...besideTheTrail(env), ...env },
    stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  return { child, stderrTail: () => stderr };
}

/** A gateway's checkpoint files beside the trail they sign, not in the working directory's. */
function besideTheTrail(env: Record<string, string>): Record<string, string> {
  return env.AUDIT_SQLITE_PATH
    ? { AUDIT_CHECKPOINT_DIR: join(dirname(env.AUDIT_SQLITE_PATH), 'checkpoints') }
    : {};
}

/** Sends `signal` and resolves with how the process ended. */
export async function stop(
  child: ChildProcess,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }
  return { code: child.exitCode, signal: child.signalCode };
}

/**
 * Resolves with the exit code and stderr of a process that is expected to end by itself; one
 * still running after `timeoutMs` is killed, and the answer says so.
 */
export async function exitOf(
  launched: Launched,
  timeoutMs = 15_000,
): Promise<{ code: number | null; stderr: string }> {
  const { child } = launched;
  if (child.exitCode === null && child.signalCode === null) {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await once(child, 'exit');
    clearTimeout(timer);
  }
  const stderr = launched.stderrTail();
  return { code: child.exitCode, stderr: child.signalCode ? `killed: still running` : stderr };
}

export async function startSimulatorProcess(
  env: Record<string, string> = {},
): Promise<Launched & { url: string }> {
  const simulator = launch(
    'dist/simulator/main.js',
    { SIMULATOR_PORT: '0', ...env },
    { stdout: 'pipe' },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = '';
      simulator.child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const listening = /listening on (http:\/\/\S+)/.exec(output)?.[1];
        if (listening) resolve(listening);
      });
      simulator.child.once('exit', () =>
        reject(new Error(`simulator did not start: ${simulator.stderrTail()}`)),
      );
    });
    return { ...simulator, url };
  } catch (error) {
    await stop(simulator.child, 'SIGKILL');
    throw error;
  }
}

const START_TIMEOUT_MS = 30_000;

/** Starts the built gateway and resolves once `/health/live` answers 200 at `url`. */
export async function startGatewayProcess(
  url: string,
  env: Record<string, string>,
  options: { cwd?: string; nodeOptions?: string[] } = {},
): Promise<Launched> {
  const launched = launch(GATEWAY_ENTRY, env, options);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (launched.child.exitCode !== null) {
      throw new Error(`gateway exited: ${launched.stderrTail()}`);
    }
    if (Date.now() > deadline) {
      await stop(launched.child, 'SIGKILL');
      throw new Error('gateway did not become live');
    }
    const live = await fetch(`${url}/health/live`).catch(() => undefined);
    if (live?.ok) return launched;
    await sleep(50);
  }
}

/**
 * The environment of a gateway child process on `simulator`, configured as the in-process
 * harness configures one (oidc with the simulator's service account); `env` adds to it or
 * overrides it. `name` names its log file.
 */
export function gatewayEnvOn(
  simulator: Pick<RunningSimulator, 'url' | 'jwksUrl' | 'idpIssuer' | 'audience'>,
  name: string,
  env: Record<string, string>,
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    TAURUSDB_ENDPOINT: `${simulator.url}/{region}`,
    IAM_ENDPOINT: simulator.url,
    IAM_TOKEN_MODE: 'oidc',
    IAM_IDP_ID: 'test-idp',
    ...SERVICE_ACCOUNT_ENV,
    AUTH_JWKS_URL: simulator.jwksUrl,
    AUTH_ISSUER: simulator.idpIssuer,
    AUTH_AUDIENCE: simulator.audience,
    AUDIT_SQLITE_PATH: join(mkdtempSync(join(tmpdir(), 'vlg-child-')), 'audit.sqlite'),
    LOG_FILE: join(process.env.VLG_TEST_LOG_DIR ?? tmpdir(), `${name}-${process.pid}.log`),
    ...env,
  };
}
