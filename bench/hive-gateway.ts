import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { GraphqlMutation, Target } from './load.js';
import { spawnHttpService, type ChildService } from './processes.js';

/**
 * Hive Gateway, the peer the gateway is measured against: its own package in bench/peers,
 * installed on demand and never part of the gateway's dependencies. It serves a supergraph that
 * Mesh Compose builds with @omnigraph/openapi from an OpenAPI description of TaurusDB's two
 * lock calls, and forwards the caller's IAM token.
 */
const PEERS_DIR = resolve('bench/peers');
const PEERS_MODULES = join(PEERS_DIR, 'node_modules');
/** The SHA-256 of the lock file bench/peers/node_modules was installed from. */
const INSTALLED_FROM = join(PEERS_MODULES, '.installed-from-lock-sha256');
const run = promisify(execFile);

/** The mutation Hive's schema has for TaurusDB's PUT: the OpenAPI body as its input. */
export const HIVE_MUTATION: GraphqlMutation = {
  query: `
    mutation Set(
      $projectId: projectId_parameter!
      $instanceId: instanceId_parameter!
      $input: SetVaultLockRequest_Input!
    ) {
      setBackupVaultLock(project_id: $projectId, instance_id: $instanceId, input: $input) {
        ... on SetVaultLockResponse { result }
        ... on Error { error_code error_msg }
      }
    }`,
  variables: ({ instance, action, days }) => ({
    projectId: instance.projectId,
    instanceId: instance.id,
    input: { action, backup_vaultlock_info: { lock_retention_days: days, lock_policy: true } },
  }),
};

const lockFileHash = () =>
  createHash('sha256')
    .update(readFileSync(join(PEERS_DIR, 'package-lock.json')))
    .digest('hex');

/**
 * `npm ci` in bench/peers when its node_modules is missing or was installed from another lock
 * file. Quiet: npm's warnings (among them its engine warnings, see PERFORMANCE.md) are left out.
 */
export async function installHiveGateway(): Promise<void> {
  const lock = lockFileHash();
  if (existsSync(INSTALLED_FROM) && readFileSync(INSTALLED_FROM, 'utf8') === lock) return;
  process.stdout.write('Installing Hive Gateway into bench/peers (npm ci)\n');
  await run('npm', ['ci', '--prefix', PEERS_DIR, '--loglevel=error', '--no-audit', '--no-fund'], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: Error & { stderr?: string }) => {
    throw new Error(`npm ci in bench/peers failed:\n${error.stderr ?? error.message}`);
  });
  writeFileSync(INSTALLED_FROM, lock);
}

function packageOf(name: string): { version: string; bin: string | Record<string, string> } {
  return JSON.parse(readFileSync(join(PEERS_MODULES, name, 'package.json'), 'utf8'));
}

/** The script of a package's command, from its package.json. */
function binOf(name: string, command: string): string {
  const { bin } = packageOf(name);
  return join(PEERS_MODULES, name, typeof bin === 'string' ? bin : bin[command]);
}

/** Mesh Compose's supergraph of openapi.yaml, its calls sent to `taurusDbEndpoint`. */
async function composeSupergraph(taurusDbEndpoint: string, workDir: string): Promise<string> {
  const output = join(workDir, 'hive-supergraph.graphql');
  const compose = binOf('@graphql-mesh/compose-cli', 'mesh-compose');
  await run(
    process.execPath,
    [compose, '--config-path', join(PEERS_DIR, 'mesh.config.js'), '--output', output],
    { cwd: PEERS_DIR, env: { PATH: process.env.PATH ?? '', TAURUSDB_URL: taurusDbEndpoint } },
  ).catch((error: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`Mesh Compose failed:\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
  });
  return output;
}

export interface RunningHiveGateway {
  service: ChildService & { readyMs: number };
  version: string;
  /** Hive's caller: its IAM token sent as is, the mutation in Hive's schema. */
  target: Target;
}

/**
 * Hive Gateway in production mode on a free loopback port, one process (its default), over
 * TaurusDB at `taurusDbEndpoint`. Its caller sends `iamHeaders` (the IAM token itself).
 */
export async function startHiveGateway(options: {
  taurusDbEndpoint: string;
  iamHeaders: Record<string, string>;
  workDir: string;
}): Promise<RunningHiveGateway> {
  const supergraph = await composeSupergraph(options.taurusDbEndpoint, options.workDir);
  const hive = binOf('@graphql-hive/gateway', 'hive-gateway');
  const service = await spawnHttpService({
    name: 'Hive Gateway',
    command: (port) => ({
      argv: [
        hive,
        'supergraph',
        supergraph,
        '--config-path',
        join(PEERS_DIR, 'gateway.config.js'),
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
      ],
      env: { NODE_ENV: 'production' },
    }),
    readyPath: '/readiness',
    logFile: join(options.workDir, 'hive-gateway.log'),
  });
  return {
    service,
    version: packageOf('@graphql-hive/gateway').version,
    target: {
      url: service.url,
      headers: options.iamHeaders,
      lockPath: () => {
        throw new Error('Hive Gateway serves the lock over GraphQL only');
      },
      mutation: HIVE_MUTATION,
    },
  };
}
