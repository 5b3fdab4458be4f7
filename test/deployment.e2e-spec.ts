import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { OPEN_ATTEMPTS_DRAIN_MS } from '../src/audit/audit-trail.js';
import { DEFAULT_UPSTREAM_TIMEOUT_MS } from '../src/config/upstream.config.js';
import { generateSigningKey, publicKeyFileOf } from '../src/checkpoints/signing-key.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/simulator.js';
import { exitOf, freePort, launch, startGatewayProcess, stop } from './support/child-processes.js';
import { lockBody, lockPath } from './support/clients.js';

// No Docker engine runs here: the Dockerfile and compose file are read, and what they describe
// is reproduced with the built code where it can be.

interface Stage {
  name: string;
  base: string;
  /** Instructions after FROM, continuation lines joined: `['COPY', '--from=build /app/x ./x']`. */
  instructions: [string, string][];
}

function dockerfileStages(): Stage[] {
  const lines = readFileSync('Dockerfile', 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (op === 'FROM') {
      const [base, , name] = args.split(/\s+/);
      stages.push({ name, base, instructions: [] });
    } else {
      stages.at(-1)!.instructions.push([op, args]);
    }
  }
  return stages;
}

const stages = dockerfileStages();
const stage = (name: string): Stage => {
  const found = stages.find((s) => s.name === name);
  if (!found) throw new Error(`no stage ${name} in the Dockerfile`);
  return found;
};
const instructionsOf = (s: Stage, op: string): string[] =>
  s.instructions.filter(([o]) => o === op).map(([, args]) => args);

const production = stages.at(-1)!;
const productionCommand = JSON.parse(instructionsOf(production, 'CMD')[0]) as string[];

interface ComposeService {
  build?: { context: string; target: string };
  image?: string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  restart?: string;
  init?: boolean;
  stop_grace_period?: string;
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;

/** `${NAME:-default}` as compose fills it in when NAME is not set. */
const interpolated = (value: string): string =>
  value.replace(/\$\{\w+:-([^}]*)\}/g, (_match, fallback: string) => fallback);

/** Every non-test source file, as one text. */
function sources(dir = 'src'): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((entry) => {
      const path = join(dir, entry.name);
      // `testing/` folders hold test helpers, left out of the build: not the gateway's variables.
      if (entry.isDirectory()) return entry.name === 'testing' ? '' : sources(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')
        ? readFileSync(path, 'utf8')
        : '';
    })
    .join('\n');
}

/**
 * The environment variables the code reads: the properties of the validated `*Env` classes
 * (`PORT?: number`) and direct reads (`env.TAURUSDB_ENDPOINT`).
 */
const variablesRead = new Set(
  [...sources().matchAll(/\b([A-Z][A-Z0-9_]*)[?!]:|\benv\.([A-Z][A-Z0-9_]+)/g)].map(
    (match) => match[1] ?? match[2],
  ),
);

function durationMs(value: string): number {
  const [, amount, unit] = /^(\d+)(ms|s|m)$/.exec(value) ?? [];
  if (amount === undefined) throw new Error(`unreadable duration ${value}`);
  return Number(amount) * { ms: 1, s: 1000, m: 60_000 }[unit as 'ms' | 's' | 'm'];
}

describe('Dockerfile', () => {
  it('builds every stage on Node 24', () => {
    expect(stages.map((s) => s.base)).toEqual(stages.map(() => 'node:24-bookworm-slim'));
  });

  it('ends with the production stage, run as a non-root user with the heap flags of start:prod', () => {
    expect(production.name).toBe('production');
    expect(instructionsOf(production, 'ENV')).toContain('NODE_ENV=production');
    expect(instructionsOf(production, 'USER')).toEqual(['node']);
    const startProd = (
      JSON.parse(readFileSync('package.json', 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts['start:prod'];
    const nodeFlags = /^NODE_ENV=production node ((?:--\S+ )+)dist\/main\.js$/
      .exec(startProd)?.[1]
      .trim()
      .split(' ');
    expect(nodeFlags).toContainEqual(expect.stringMatching(/^--max-old-space-size=\d+$/));
    expect(productionCommand).toEqual(['node', ...nodeFlags!, 'dist/main.js']);
  });

  it('leaves the simulator and its development identity provider out of the production stage', () => {
    const copies = instructionsOf(production, 'COPY');
    const distCopy = copies.find((args) => args.endsWith(' ./dist'));
    const builtDir = /^--from=build \/app\/(\S+) \.\/dist$/.exec(distCopy ?? '')?.[1];
    expect(builtDir).toBeDefined();
    expect(builtDir).not.toBe('dist');
    expect(removedFromBuild(builtDir!)).toContain('simulator');
    // The simulator stage is where compose gets it from.
    expect(instructionsOf(stage('simulator'), 'CMD')).toEqual([
      '["node", "dist/simulator/main.js"]',
    ]);
  });
});

/** The folder a build-stage folder is a copy of (`cp -r dist dist-production`), or itself. */
function copiedInBuild(builtDir: string): string {
  const run = instructionsOf(stage('build'), 'RUN').join(' ');
  return new RegExp(`cp -r (\\S+) ${builtDir}\\b`).exec(run)?.[1] ?? builtDir;
}

/** Paths under `builtDir` that the build stage deletes (`rm -rf builtDir/x builtDir/y`). */
function removedFromBuild(builtDir: string): string[] {
  return instructionsOf(stage('build'), 'RUN')
    .flatMap((run) => [...run.matchAll(new RegExp(`${builtDir}/(\\S+)`, 'g'))])
    .map((match) => match[1]);
}

describe('docker-compose.yml', () => {
  it('runs the simulator from its own image target and the gateway from production', () => {
    expect(services.simulator.build?.target).toBe('simulator');
    expect(services.gateway.build?.target).toBe('production');
  });

  it('health-checks the simulator on its own port, and starts the gateway once it is healthy', () => {
    const port = services.simulator.environment?.SIMULATOR_PORT;
    expect(port).toBe('4010');
    expect(services.simulator.ports).toEqual([`${port}:${port}`]);
    expect(services.simulator.healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${port}/`);
    expect(services.gateway.depends_on?.simulator).toEqual({ condition: 'service_healthy' });
  });

  it('gives the gateway longer to stop than the audit drain plus one upstream deadline', () => {
    const upstreamTimeoutMs = Number(
      interpolated(services.gateway.environment?.UPSTREAM_TIMEOUT_MS ?? '') ||
        DEFAULT_UPSTREAM_TIMEOUT_MS,
    );
    expect(durationMs(services.gateway.stop_grace_period ?? '0s')).toBeGreaterThan(
      OPEN_ATTEMPTS_DRAIN_MS + upstreamTimeoutMs,
    );
  });

  it('restarts every service, and runs the Node ones under an init so signals reach Node', () => {
    for (const [name, service] of Object.entries(services)) {
      expect([name, service.restart]).toEqual([
        name,
        expect.stringMatching(/^(unless-stopped|on-failure|always)$/),
      ]);
      if (service.build) expect([name, service.init]).toEqual([name, true]);
    }
  });

  it('starts only what the gateway is configured to use; the rest waits behind a profile', () => {
    const gatewayConfig = Object.values(services.gateway.environment ?? {})
      .map(interpolated)
      .join(' ');
    for (const [name, service] of Object.entries(services)) {
      if (name === 'gateway') continue;
      const used = gatewayConfig.includes(`//${name}:`);
      const startedByDefault = service.profiles === undefined;
      expect({ name, startedByDefault }).toEqual({ name, startedByDefault: used });
      // A dependency is required unless it says otherwise, which would start the unused service.
      const dependency = services.gateway.depends_on?.[name];
      if (!used)
        expect({ name, required: dependency?.required ?? dependency !== undefined }).toEqual({
          name,
          required: false,
        });
    }
  });

  it('sets only variables that the code reads', () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.build) continue;
      for (const variable of Object.keys(service.environment ?? {})) {
        expect([name, variable, variablesRead.has(variable)]).toEqual([name, variable, true]);
      }
    }
  });
});

describe('README', () => {
  it('has every variable the code reads in its configuration reference', () => {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf('## Configuration reference\n');
    expect(start).toBeGreaterThan(-1);
    const reference = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const documented = new Set(
      reference
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) => [...line.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)])
        .map((match) => match[1]),
    );
    expect([...variablesRead].filter((variable) => !documented.has(variable))).toEqual([]);
    expect(variablesRead.size).toBeGreaterThan(30);
  });
});

/**
 * The production stage as a directory: its COPY instructions applied to this checkout's build,
 * with what the build stage deletes left out. Compose's container paths map onto it.
 */
function productionLayout(): string {
  const root = mkdtempSync(join(tmpdir(), 'vlg-image-'));
  for (const args of instructionsOf(production, 'COPY')) {
    const fromBuild = /^--from=build \/app\/(\S+) \.\/(\S*)$/.exec(args);
    const [source, target] = fromBuild
      ? [fromBuild[1], fromBuild[2]]
      : (args.split(/\s+/) as [string, string]);
    const local = fromBuild ? copiedInBuild(source) : source;
    const removed = removedFromBuild(source);
    const destination = join(root, target === './' ? local : target);
    if (local === 'node_modules') {
      symlinkSync(resolve(local), destination);
    } else {
      cpSync(local, destination, {
        recursive: true,
        filter: (path) => !removed.some((dir) => relative(local, path).startsWith(dir)),
      });
    }
  }
  return root;
}

describe('the production image, reproduced from the Dockerfile and compose', () => {
  let simulator: RunningSimulator;
  let root: string;
  let env: Record<string, string>;
  let url: string;

  beforeAll(async () => {
    simulator = await startSimulator({ port: 0 });
    root = productionLayout();
    const dataDir = mkdtempSync(join(tmpdir(), 'vlg-image-data-'));
    // The operator generates the checkpoint signing key into ./secrets before the first `up`.
    const secretsDir = mkdtempSync(join(tmpdir(), 'vlg-image-secrets-'));
    generateSigningKey(join(secretsDir, 'audit-signing-key.pem'));
    const mounts = (services.gateway.volumes ?? []).map((volume) => {
      const [source, target] = volume.split(':');
      const host = source.startsWith('.') ? resolve(source) : dataDir;
      return { target, host: source === './secrets' ? secretsDir : host };
    });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    env = Object.fromEntries(
      Object.entries(services.gateway.environment ?? {}).map(([name, value]) => {
        let local = interpolated(value).replaceAll('http://simulator:4010', simulator.url);
        for (const mount of mounts) local = local.replace(mount.target, mount.host);
        return [name, local.replace(/^\/app\//, `${root}/`)];
      }),
    );
    env.PORT = String(port);
    env.LOG_FILE = join(process.env.VLG_TEST_LOG_DIR as string, `image-${port}.log`);
  });
  afterAll(() => simulator.close());

  it('has no simulator in it', () => {
    expect(readdirSync(join(root, 'dist'))).not.toContain('simulator');
    expect(readdirSync(join(root, 'dist'))).toContain('main.js');
  });

  it('serves with compose environment, and the verify command finds its audit trail from the same environment', async () => {
    const gateway = await startGatewayProcess(url, env, {
      cwd: root,
      nodeOptions: productionCommand.slice(1, -1),
    });
    try {
      const token = await simulator.mintToken({ sub: 'compose-dba', groups: ['dba'] });
      const { projectId, id } = INSTANCES.financeProd;
      const answer = await fetch(`${url}${lockPath(projectId, id)}?dry_run=true`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(lockBody('enable', 30)),
      });
      expect(answer.status).toBe(200);

      // `docker compose exec gateway node dist/audit/verify.cli.js`, while the gateway runs.
      const verify = spawnSync(process.execPath, ['dist/audit/verify.cli.js'], {
        cwd: root,
        env: { PATH: process.env.PATH, ...env },
        encoding: 'utf8',
      });
      expect({ status: verify.status, stdout: verify.stdout }).toEqual({
        status: 0,
        stdout: 'audit chain OK: 1 rows\n',
      });
    } finally {
      await stop(gateway.child, 'SIGTERM');
    }
    // `docker compose exec gateway npm run audit:verify -- --checkpoints … --public-key …`: no
    // build step in the image, and the checkpoint the gateway wrote as it stopped signs the row.
    const withCheckpoints = spawnSync(
      'npm',
      [
        'run',
        '--silent',
        'audit:verify',
        '--',
        '--checkpoints',
        env.AUDIT_CHECKPOINT_DIR,
        '--public-key',
        publicKeyFileOf(env.AUDIT_SIGNING_KEY_FILE),
      ],
      { cwd: root, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' },
    );
    expect({ status: withCheckpoints.status, stdout: withCheckpoints.stdout }).toEqual({
      status: 0,
      stdout: expect.stringMatching(
        /^audit chain OK: 1 rows\ncheckpoints OK: 1 signed by key [0-9a-f]{16}, the newest at seq 1 /,
      ),
    });
  });

  it('refuses to start without a TaurusDB endpoint, rather than look for a simulator', async () => {
    const withoutEndpoint = { ...env };
    delete withoutEndpoint.TAURUSDB_ENDPOINT;
    const { code, stderr } = await exitOf(launch('dist/main.js', withoutEndpoint, { cwd: root }));
    expect(code).toBe(1);
    expect(stderr).toBe(
      'vault-lock-gateway failed to start: TAURUSDB_ENDPOINT is not set: the embedded simulator is refused when NODE_ENV=production\n',
    );
  });

  it('refuses to start without the key that signs audit checkpoints, naming the variable', async () => {
    const withoutKey = { ...env };
    delete withoutKey.AUDIT_SIGNING_KEY_FILE;
    const { code, stderr } = await exitOf(launch('dist/main.js', withoutKey, { cwd: root }));
    expect(code).toBe(1);
    expect(stderr).toContain(
      'AUDIT_SIGNING_KEY_FILE is required in production: the Ed25519 private key (PEM) that signs audit checkpoints',
    );
  });
});

describe('the standalone simulator', () => {
  it('refuses to start under NODE_ENV=production, since its identity provider mints tokens', async () => {
    const simulator = launch('dist/simulator/main.js', {
      NODE_ENV: 'production',
      SIMULATOR_PORT: '0',
    });
    const { code, stderr } = await exitOf(simulator);
    expect(code).toBe(1);
    expect(stderr).toContain('simulator refused to start: NODE_ENV=production');
  });
});
