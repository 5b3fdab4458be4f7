import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { OPEN_ATTEMPTS_DRAIN_MS } from '../src/audit/audit-trail.js';
import { describeWithPostgres, TestDatabase } from '../src/audit/testing/postgres-test-database.js';
import { DEFAULT_UPSTREAM_TIMEOUT_MS } from '../src/config/upstream.config.js';
import { generateSigningKey, publicKeyFileOf } from '../src/checkpoints/signing-key.js';
import { TEST_REDIS_URL, TestRedisSpace } from '../src/redis/testing/test-redis.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/simulator.js';
import {
  exitOf,
  freePort,
  GATEWAY_ENTRY,
  launch,
  startGatewayProcess,
  stop,
} from './support/child-processes.js';
import {
  documentedVariables,
  durationMs,
  healthRoutes,
  variablesRead,
} from './support/app-configuration.js';
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
  deploy?: { replicas?: number };
  expose?: string[];
  image?: string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  command?: string[];
  restart?: string;
  init?: boolean;
  stop_grace_period?: string;
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;

/**
 * A value as compose fills it in from `shell`: `${NAME:-default}` falls back to the default,
 * `${NAME:?message}` (required) to nothing here, where compose would refuse to start.
 */
const interpolated = (value: string, shell: Record<string, string> = {}): string =>
  value.replace(
    /\$\{(\w+):([-?])([^}]*)\}/g,
    (_match, name: string, kind: string, fallback: string) =>
      shell[name] ?? (kind === '-' ? fallback : ''),
  );

/** The services another one reaches, by the host of each URL in its environment. */
const servicesUsedBy = (service: ComposeService): string[] => {
  const hosts = Object.values(service.environment ?? {}).flatMap((value) =>
    [...interpolated(value).matchAll(/\b[a-z]+:\/\/(?:[^@/\s]*@)?([\w-]+):\d+/g)].map(
      (match) => match[1],
    ),
  );
  return Object.keys(services).filter((name) => hosts.includes(name));
};

describe('Dockerfile', () => {
  it('builds every stage on Node 24', () => {
    expect(stages.map((s) => s.base)).toEqual(stages.map(() => 'node:24-bookworm-slim'));
  });

  it('ends with the production stage, run as a non-root user with the environment and heap flags of start:prod', () => {
    expect(production.name).toBe('production');
    expect(instructionsOf(production, 'USER')).toEqual(['node']);
    const startProd = (
      JSON.parse(readFileSync('package.json', 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts['start:prod'];
    const [, environment, flags] =
      /^((?:[A-Z_]+=\S+ )+)node ((?:--\S+ )+)dist\/bundle\/main\.js$/.exec(startProd) ?? [];
    const nodeFlags = flags.trim().split(' ');
    expect(environment.trim().split(' ')).toEqual(['NODE_ENV=production', 'MALLOC_ARENA_MAX=2']);
    expect(instructionsOf(production, 'ENV')).toEqual(environment.trim().split(' '));
    expect(nodeFlags).toContainEqual(expect.stringMatching(/^--max-old-space-size=\d+$/));
    expect(productionCommand).toEqual(['node', ...nodeFlags, GATEWAY_ENTRY]);
  });

  it('makes every directory compose mounts a named volume on, owned by the user the gateway runs as', () => {
    const named = (gateway.volumes ?? [])
      .map((volume) => volume.split(':'))
      .filter(([source]) => !source.startsWith('.') && !source.startsWith('/'))
      .map(([, target]) => target);
    expect(named.length).toBeGreaterThan(0);
    // The production stage's shell commands, each as its words: `mkdir -p a b`, `chown node:node a b`.
    const commands = instructionsOf(production, 'RUN').flatMap((run) =>
      run.split('&&').map((command) => command.trim().split(/\s+/)),
    );
    const does = (words: string[], target: string) =>
      commands.some(
        (command) => words.every((word, i) => command[i] === word) && command.includes(target),
      );
    for (const target of named) {
      const made = does(['mkdir', '-p'], target);
      const owned = does(['chown', 'node:node'], target);
      expect({ target, made, owned }).toEqual({ target, made: true, owned: true });
    }
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

const gateway = services.gateway;
const gatewayPort = gateway.environment?.PORT ?? '';
const nginxConf = readFileSync('deploy/nginx/nginx.conf', 'utf8');

describe('docker-compose.yml', () => {
  it('runs the simulator from its own image target and the gateway from production', () => {
    expect(services.simulator.build?.target).toBe('simulator');
    expect(gateway.build?.target).toBe('production');
  });

  it('health-checks the simulator on its own port, and starts the gateway once it is healthy', () => {
    const port = services.simulator.environment?.SIMULATOR_PORT;
    expect(port).toBe('4010');
    expect(services.simulator.ports).toEqual([`${port}:${port}`]);
    expect(services.simulator.healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${port}/`);
    expect(gateway.depends_on?.simulator).toEqual({ condition: 'service_healthy' });
  });

  it('runs two gateway replicas on one PostgreSQL audit trail and one Redis', () => {
    expect(gateway.deploy?.replicas).toBeGreaterThanOrEqual(2);
    const used = servicesUsedBy(gateway);
    expect(used.sort()).toEqual(['postgres', 'redis', 'simulator']);
    const [, user, password, database] =
      /^postgresql:\/\/(\w+):(\w+)@postgres:5432\/(\w+)$/.exec(
        gateway.environment?.AUDIT_DATABASE_URL ?? '',
      ) ?? [];
    expect(database).toBeDefined();
    expect(services.postgres.environment).toEqual({
      POSTGRES_USER: user,
      POSTGRES_PASSWORD: password,
      POSTGRES_DB: database,
    });
    // Required with REDIS_URL, and never written into the file.
    expect(gateway.environment?.TOKEN_CACHE_KEY).toMatch(/^\$\{TOKEN_CACHE_KEY:\?[^}]+\}$/);
  });

  it('starts each replica once every service it uses is healthy, each with a health check', () => {
    for (const name of servicesUsedBy(gateway)) {
      expect([name, gateway.depends_on?.[name]]).toEqual([name, { condition: 'service_healthy' }]);
      expect([name, services[name].healthcheck?.test.length]).toEqual([name, expect.any(Number)]);
    }
    expect(services.postgres.healthcheck?.test.join(' ')).toContain(
      `-d ${services.postgres.environment?.POSTGRES_DB}`,
    );
  });

  it('health-checks the replicas on the readiness route and port the gateway serves', () => {
    const check = gateway.healthcheck?.test.join(' ') ?? '';
    const [, port, path] = /http:\/\/127\.0\.0\.1:(\d+)(\/[\w/]+)/.exec(check) ?? [];
    expect({ port, path }).toEqual({ port: gatewayPort, path: '/health/ready' });
    expect(healthRoutes()).toContain(path);
    // Only the balancer publishes a port: nothing reaches a replica around it.
    expect(gateway.ports).toBeUndefined();
    expect(gateway.expose).toEqual([gatewayPort]);
  });

  it('balances over the replicas with nginx, started once they are ready', () => {
    const balancer = services.balancer;
    expect(balancer.image).toMatch(/^nginx:1\.(2[89]|[3-9]\d)/);
    expect(balancer.depends_on).toEqual({ gateway: { condition: 'service_healthy' } });
    expect(balancer.volumes).toEqual(['./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro']);
    // The upstream is every replica of the service, looked up again as they come and go.
    expect(nginxConf).toMatch(new RegExp(`server gateway:${gatewayPort} resolve\\b`));
    const listen = /^\s*listen (\d+);/m.exec(nginxConf)?.[1];
    expect(balancer.ports).toEqual([`${gatewayPort}:${listen}`]);
    const check = balancer.healthcheck?.test.join(' ') ?? '';
    expect(check).toContain(`http://127.0.0.1:${listen}/health/live`);
    expect(healthRoutes()).toContain('/health/live');
  });

  it('names the caller to the replicas through the one proxy hop they trust, and never resends a request', () => {
    expect(nginxConf).toMatch(/proxy_set_header X-Forwarded-For \$remote_addr;/);
    expect(gateway.environment?.TRUST_PROXY).toBe('1');
    expect(nginxConf).toMatch(/proxy_next_upstream off;/);
    // A request lasts at most its upstream deadline plus the audit writes around it.
    const readTimeout = /proxy_read_timeout (\w+);/.exec(nginxConf)?.[1] ?? '0s';
    expect(durationMs(readTimeout)).toBeGreaterThan(DEFAULT_UPSTREAM_TIMEOUT_MS);
  });

  it('gives the gateway longer to stop than the audit drain plus one upstream deadline', () => {
    const upstreamTimeoutMs = Number(
      interpolated(gateway.environment?.UPSTREAM_TIMEOUT_MS ?? '') || DEFAULT_UPSTREAM_TIMEOUT_MS,
    );
    expect(durationMs(gateway.stop_grace_period ?? '0s')).toBeGreaterThan(
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

  it('starts only services the gateway uses or that front it; the rest waits behind a profile', () => {
    const used = servicesUsedBy(gateway);
    for (const [name, service] of Object.entries(services)) {
      if (name === 'gateway') continue;
      const needed = used.includes(name) || service.depends_on?.gateway !== undefined;
      expect({ name, startedByDefault: service.profiles === undefined }).toEqual({
        name,
        startedByDefault: needed,
      });
    }
  });

  it('sends traces, when the shell names the tracing profile’s collector, through it to Jaeger', () => {
    // Off by default: an unset endpoint registers nothing, and the profile's services stay down.
    expect(gateway.environment?.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(
      '${OTEL_EXPORTER_OTLP_ENDPOINT:-}',
    );
    const readme = readFileSync('README.md', 'utf8');
    const endpoint = /export OTEL_EXPORTER_OTLP_ENDPOINT=(\S+)/.exec(readme)?.[1] ?? '';
    const shell = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint };
    const exporterHost = servicesUsedBy({
      environment: {
        OTEL_EXPORTER_OTLP_ENDPOINT: interpolated('${OTEL_EXPORTER_OTLP_ENDPOINT:-}', shell),
      },
    });
    expect(exporterHost).toEqual(['otel-collector']);
    expect(readme).toContain('docker compose --profile tracing up');

    const collector = services['otel-collector'];
    const jaeger = services.jaeger;
    expect([collector.profiles, jaeger.profiles]).toEqual([['tracing'], ['tracing']]);
    const configPath = /^--config=(\S+)$/.exec(collector.command?.[0] ?? '')?.[1];
    const mounted = collector.volumes?.find((volume) => volume.split(':')[1] === configPath);
    const config = parse(readFileSync(mounted?.split(':')[0] ?? '', 'utf8')) as {
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    };
    const httpPort = config.receivers.otlp.protocols.http.endpoint.split(':')[1];
    expect(new URL(endpoint).port).toBe(httpPort);
    expect(collector.expose).toContain(httpPort);

    const { traces } = config.service.pipelines;
    expect(traces.receivers).toEqual(['otlp']);
    const [jaegerHost, jaegerPort] = traces.exporters.map((name) =>
      config.exporters[name].endpoint.split(':'),
    )[0];
    expect(jaegerHost).toBe('jaeger');
    expect(jaeger.expose).toContain(jaegerPort);
    expect(collector.depends_on?.jaeger).toBeDefined();
    expect(jaeger.ports).toEqual(['16686:16686']);
  });

  it('sets only variables that the code reads, each in the README configuration reference', () => {
    const documented = documentedVariables();
    for (const [name, service] of Object.entries(services)) {
      if (!service.build) continue;
      for (const variable of Object.keys(service.environment ?? {})) {
        expect([name, variable, variablesRead.has(variable), documented.has(variable)]).toEqual([
          name,
          variable,
          true,
          true,
        ]);
      }
    }
  });
});

describe('README', () => {
  it('has every variable the code reads in its configuration reference', () => {
    const documented = documentedVariables();
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

await describeWithPostgres(
  'the production image, reproduced from the Dockerfile and compose',
  () => {
    let simulator: RunningSimulator;
    let db: TestDatabase;
    let redisSpace: TestRedisSpace;
    let root: string;
    let env: Record<string, string>;
    let url: string;

    beforeAll(async () => {
      simulator = await startSimulator({ port: 0 });
      db = await TestDatabase.create();
      redisSpace = new TestRedisSpace();
      root = productionLayout();
      // Compose's services, as this machine runs them.
      const local: [RegExp, string][] = [
        [/http:\/\/simulator:4010/g, simulator.url],
        [/^postgresql:\/\/\w+:\w+@postgres:5432\/\w+$/, db.url],
        [/^redis:\/\/redis:6379$/, TEST_REDIS_URL],
      ];
      // Bind mounts of this checkout; the rest of /app is the image's.
      // The operator generates the checkpoint signing key into ./secrets before the first `up`;
      // a named volume is a directory of its own.
      const secretsDir = mkdtempSync(join(tmpdir(), 'vlg-image-secrets-'));
      generateSigningKey(join(secretsDir, 'audit-signing-key.pem'));
      const mounts = (gateway.volumes ?? []).map((volume) => {
        const [source, target] = volume.split(':');
        if (source === './secrets') return { target, host: secretsDir };
        const host = source.startsWith('.')
          ? resolve(source)
          : mkdtempSync(join(tmpdir(), `vlg-image-${source}-`));
        return { target, host };
      });
      const shell = { TOKEN_CACHE_KEY: randomBytes(32).toString('base64') };
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      env = Object.fromEntries(
        Object.entries(gateway.environment ?? {}).map(([name, value]) => {
          let here = interpolated(value, shell);
          for (const [address, replacement] of local) here = here.replace(address, replacement);
          for (const mount of mounts) here = here.replace(mount.target, mount.host);
          return [name, here.replace(/^\/app\//, `${root}/`)];
        }),
      );
      env.PORT = String(port);
      env.REDIS_KEY_PREFIX = redisSpace.prefix;
      env.LOG_FILE = join(process.env.VLG_TEST_LOG_DIR as string, `image-${port}.log`);
    });
    afterAll(async () => {
      await simulator.close();
      await redisSpace.close();
      await db.drop();
    });

    it('has no simulator in it', () => {
      expect(readdirSync(join(root, 'dist'))).not.toContain('simulator');
      expect(readdirSync(join(root, 'dist', 'bundle'))).toContain('main.js');
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

    it('refuses to start without the key that signs audit checkpoints, naming the variable', async () => {
      const withoutKey = { ...env };
      delete withoutKey.AUDIT_SIGNING_KEY_FILE;
      const { code, stderr } = await exitOf(launch(GATEWAY_ENTRY, withoutKey, { cwd: root }));
      expect(code).toBe(1);
      expect(stderr).toContain(
        'AUDIT_SIGNING_KEY_FILE is required in production: the Ed25519 private key (PEM) that signs audit checkpoints',
      );
    });

    it('refuses http for IAM, TaurusDB and the JWKS unless compose allows it, naming the variable', async () => {
      const https: Record<string, string> = {
        AUTH_JWKS_URL: 'https://sso.example.test/jwks',
        IAM_ENDPOINT: 'https://iam.example.test',
        TAURUSDB_ENDPOINT: 'https://gaussdb.{region}.example.test',
      };
      const refused = [];
      for (const variable of Object.keys(https)) {
        // The others https, so that the start can stop only at this one.
        const plaintextOnlyHere = { ...env, ...https, [variable]: env[variable] };
        delete plaintextOnlyHere.ALLOW_HTTP_UPSTREAMS;
        expect(plaintextOnlyHere[variable]).toMatch(/^http:\/\//);
        const { code, stderr } = await exitOf(
          launch(GATEWAY_ENTRY, plaintextOnlyHere, { cwd: root }),
        );
        expect(code).toBe(1);
        refused.push(
          stderr.match(/\n {2}([\w.-]+): must be an https URL when NODE_ENV=production/)?.[1],
        );
      }
      expect(refused).toEqual(Object.keys(https));
    });

    it('refuses to start without a TaurusDB endpoint, rather than look for a simulator', async () => {
      const withoutEndpoint = { ...env };
      delete withoutEndpoint.TAURUSDB_ENDPOINT;
      const { code, stderr } = await exitOf(launch(GATEWAY_ENTRY, withoutEndpoint, { cwd: root }));
      expect(code).toBe(1);
      expect(stderr).toBe(
        'vault-lock-gateway failed to start: TAURUSDB_ENDPOINT is not set: the embedded simulator is refused when NODE_ENV=production\n',
      );
    });
  },
);

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
