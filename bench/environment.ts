import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey } from '../src/checkpoints/signing-key.js';
import { PROJECTS } from '../src/simulator/fixtures.js';
import type { RouteName } from '../src/simulator/route-names.js';
import {
  SERVICE_ACCOUNT,
  startSimulator,
  type RunningSimulator,
} from '../src/simulator/simulator.js';
import { injectFault, lockPath } from '../test/support/clients.js';
import { OtlpReceiver } from '../test/support/otlp-receiver.js';
import { exchangeOidcToken } from './iam-token.js';
import type { Target } from './load.js';
import type { CpuProfiles } from './cpu-profiles.js';
import { spawnGateway, spawnReferenceProxy, type ChildService } from './processes.js';
import type { ReferenceProxyConfig, RunningService } from './reference-proxy.js';
import { prepareStore, type Store, type StoreSetup } from './stores.js';

/** What the load is sent to: the gateway, the reference proxy, or TaurusDB (the simulator) itself. */
export type TargetName = 'gateway' | 'reference' | 'upstream';

export interface EnvironmentOptions {
  /** Fixed delay the simulator adds to every TaurusDB call. */
  upstreamLatencyMs: number;
  /** Where the gateway keeps its state; `sqlite` unless told otherwise. */
  store?: Store;
  /** The gateway's variables beyond the ones that point it at the simulator. */
  gatewayEnv?: Record<string, string>;
  /** Traces on, exported to an OTLP/HTTP receiver in this process; off unless told. */
  tracing?: boolean;
  /** Loads the profiler into the gateway, for a CPU profile of each measured run. */
  cpuProfiles?: CpuProfiles;
  /** How the reference proxy runs; its own process unless told otherwise. */
  startReference?(config: ReferenceProxyConfig, logDir: string): Promise<RunningService>;
}

/** A fixed delay the simulator adds to each call of these routes. */
export interface UpstreamLatency {
  routes: readonly RouteName[];
  latencyMs: number;
}

export interface BenchEnvironment {
  simulator: RunningSimulator;
  gateway: ChildService;
  /** From spawn to the first 200 from `/health/ready`. */
  gatewayReadyMs: number;
  targets: Record<TargetName, Target>;
  /** TaurusDB's endpoint for the region of the load's project, as a client of it is configured. */
  taurusDbEndpoint: string;
  store: Store;
  /** For `postgres`: the run's database and Redis key prefix, removed by `close`. */
  shared: StoreSetup['shared'];
  /** Where the gateway's and the reference proxy's output (and a SQLite audit file) are. */
  workDir: string;
  /**
   * Clears the simulator's locks (and its counts, which are kept here) and puts back the
   * latency: the run's `upstreamLatencyMs` on the TaurusDB lock and details calls unless told
   * otherwise.
   */
  resetUpstream(latency?: UpstreamLatency): Promise<void>;
  cpuProfiles?: CpuProfiles;
  /** OIDC exchanges IAM has answered since the simulator started. */
  iamExchanges(): number;
  tracing: boolean;
  /** Spans the gateway has exported so far (0 with tracing off). */
  spansExported(): number;
  close(): Promise<void>;
}

const IDP_ID = 'bench-idp';
const PROJECT = PROJECTS.cnNorth4;
const TAURUSDB_ROUTES = ['taurusdb.putLock', 'taurusdb.getLock', 'taurusdb.instance'] as const;

/**
 * The simulator in this process, the built gateway in production mode and the reference proxy
 * beside it, all on loopback. Each target's caller is its own principal, so IAM exchanges can be
 * told apart.
 */
export async function startBenchEnvironment(
  options: EnvironmentOptions,
): Promise<BenchEnvironment> {
  const workDir = mkdtempSync(join(tmpdir(), 'vlg-bench-'));
  const store = options.store ?? 'sqlite';
  const simulator = await startSimulator({ port: 0 });
  const services: { close(): Promise<void> }[] = [simulator];
  // In reverse order of start, each after the ones started later: the store's database and
  // keys go only once the gateway that writes them has stopped.
  const closeAll = async () => {
    const failures: unknown[] = [];
    for (const service of services.reverse()) {
      await service.close().catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw new AggregateError(failures, 'closing the bench environment');
  };
  try {
    const storeSetup = await prepareStore(store, workDir);
    // Production refuses to start without the key that signs audit checkpoints.
    const signingKey = join(workDir, 'audit-signing-key.pem');
    generateSigningKey(signingKey);
    services.push(storeSetup);
    const traces = new OtlpReceiver(false);
    const tracingEnv: Record<string, string> = {};
    if (options.tracing) {
      tracingEnv.OTEL_EXPORTER_OTLP_ENDPOINT = await traces.listen();
      services.push(traces);
    }
    const upstreamEnv = {
      TAURUSDB_ENDPOINT: `${simulator.url}/{region}`,
      IAM_ENDPOINT: simulator.url,
      IAM_IDP_ID: IDP_ID,
      AUTH_JWKS_URL: simulator.jwksUrl,
      AUTH_ISSUER: simulator.idpIssuer,
      AUTH_AUDIENCE: simulator.audience,
    };
    const gateway = await spawnGateway(
      {
        ...upstreamEnv,
        NODE_ENV: 'production',
        // The simulator answers plain http on the loopback.
        ALLOW_HTTP_UPSTREAMS: 'true',
        POLICY_FILE: 'config/policy.example.yaml',
        // The example policy's four-eyes rule runs later with the service identity.
        IAM_DOMAIN_NAME: SERVICE_ACCOUNT.domainName,
        IAM_USER_NAME: SERVICE_ACCOUNT.userName,
        IAM_PASSWORD: SERVICE_ACCOUNT.password,
        AUDIT_SIGNING_KEY_FILE: signingKey,
        AUDIT_CHECKPOINT_DIR: join(workDir, 'checkpoints'),
        ...storeSetup.env,
        LOG_LEVEL: 'warn',
        // The load comes from a handful of callers, far over any caller's real rate limit.
        RATE_LIMIT_MUTATIONS_PER_MINUTE: '1000000',
        RATE_LIMIT_READS_PER_MINUTE: '1000000',
        ...tracingEnv,
        ...options.gatewayEnv,
        ...options.cpuProfiles?.env,
      },
      workDir,
      options.cpuProfiles?.nodeFlags,
    );
    options.cpuProfiles?.attach(gateway.pid);
    services.push(gateway);
    const startReference = options.startReference ?? spawnReferenceProxy;
    const reference = await startReference(
      {
        taurusDbEndpoint: upstreamEnv.TAURUSDB_ENDPOINT,
        iamEndpoint: upstreamEnv.IAM_ENDPOINT,
        idpId: IDP_ID,
        jwksUrl: upstreamEnv.AUTH_JWKS_URL,
        issuer: upstreamEnv.AUTH_ISSUER,
        audience: upstreamEnv.AUTH_AUDIENCE,
      },
      workDir,
    );
    services.push(reference);

    const callerOf = async (sub: string) => ({
      authorization: `Bearer ${await simulator.mintToken({ sub, groups: ['dba'] })}`,
    });
    const upstreamToken = await exchangeOidcToken({
      iamEndpoint: simulator.url,
      idpId: IDP_ID,
      idToken: await simulator.mintToken({ sub: 'bench-upstream', groups: ['dba'] }),
      projectId: PROJECT.id,
    });
    const proxied = (instance: { projectId: string; id: string }, method: 'PUT' | 'GET') =>
      `${lockPath(instance.projectId, instance.id)}${method === 'PUT' ? '?dry_run=false' : ''}`;
    const targets: Record<TargetName, Target> = {
      gateway: { url: gateway.url, headers: await callerOf('bench-gateway'), lockPath: proxied },
      reference: {
        url: reference.url,
        headers: await callerOf('bench-reference'),
        lockPath: proxied,
      },
      upstream: {
        url: simulator.url,
        headers: { 'x-auth-token': upstreamToken.value },
        lockPath: (instance) =>
          `/${upstreamToken.region}${lockPath(instance.projectId, instance.id)}`,
      },
    };

    const runLatency: UpstreamLatency = {
      routes: TAURUSDB_ROUTES,
      latencyMs: options.upstreamLatencyMs,
    };
    const applyLatency = async ({ routes, latencyMs }: UpstreamLatency) => {
      if (latencyMs === 0) return;
      for (const route of routes) {
        await injectFault({ simulator }, { route, latencyMs });
      }
    };
    await applyLatency(runLatency);
    let exchangesBeforeReset = 0;
    return {
      simulator,
      gateway,
      gatewayReadyMs: gateway.readyMs,
      targets,
      taurusDbEndpoint: `${simulator.url}/${upstreamToken.region}`,
      store,
      shared: storeSetup.shared,
      workDir,
      cpuProfiles: options.cpuProfiles,
      async resetUpstream(latency = runLatency) {
        exchangesBeforeReset += simulator.calls()['iam.oidc'];
        simulator.reset();
        await applyLatency(latency);
      },
      iamExchanges: () => exchangesBeforeReset + simulator.calls()['iam.oidc'],
      tracing: options.tracing ?? false,
      spansExported: () => traces.spansReceived,
      close: async () => {
        await closeAll();
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
