import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { Agent, request } from 'undici';
import { runVerify, type VerifyCommandResult } from '../../src/audit/verify-command.js';
import { DEV_AUDIENCE } from '../../src/simulator/dev-identity-provider.js';
import { INSTANCES } from '../../src/simulator/fixtures.js';
import {
  freePort,
  startGatewayProcess,
  startSimulatorProcess,
  stop,
  type Launched,
} from '../support/child-processes.js';
import { lockBody, lockPath, SET_LOCK_MUTATION } from '../support/clients.js';
import { sampleSum } from '../support/prometheus-text.js';
import { SERVICE_ACCOUNT_ENV } from '../support/service-account.js';

export interface ChaosOptions {
  kills: number;
  /** Seeds the kill points and the traffic mix (printed, so a failing run can be retried with it). */
  seed: number;
  /** Gateway log files go here, so the test run's log-hygiene scan covers them. */
  logDir: string;
}

export interface ChaosReport {
  seed: number;
  kills: number;
  mutationsSent: number;
  /** Mutations the client saw succeed: 200, with the row id the gateway gave for them. */
  succeeded: number;
  rows: number;
  /** Attempts the gateway died during, closed as `unknown` (GW.CRASHED) at the next start. */
  closedAtRestart: number;
  /** Answered mutations whose row is missing, or a success whose row does not say succeeded. */
  rowsLost: number;
  /** Open attempts found right after a start-up reconcile, summed over every start. */
  openAfterStart: number;
  /** `gateway_audit_sealed_late_total` right after each start, summed over every start. */
  sealedLateCounted: number;
  verify: VerifyCommandResult;
  durationMs: number;
}

/** The fixture instances the example policy lets a DBA lock. */
const TARGETS = [INSTANCES.financeProd, INSTANCES.financeStaging, INSTANCES.apacProd];
const CLIENTS = 4;
const MAX_RETENTION_DAYS = 3650;
/** A round ends this many answers after the gateway came up (at random), plus a little jitter. */
const MAX_ANSWERS_PER_ROUND = 12;
const MAX_KILL_JITTER_MS = 100;
/** Kill anyway if the gateway answers nothing this long: a hung gateway must not hang the run. */
const ROUND_TIMEOUT_MS = 15_000;

/** What one client saw of one mutation; no answer at all when the gateway died meanwhile. */
interface Observation {
  auditId: string | null;
  succeeded: boolean;
  errorCode?: string;
}

interface Mutation {
  target: (typeof TARGETS)[number];
  action: 'enable' | 'extend';
  retentionDays: number;
  viaGraphql: boolean;
}

/** mulberry32: small, seedable, good enough to pick kill points. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function post(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${url}: ${response.status}`);
  return response.json();
}

function openRows(auditPath: string): number {
  const db = new Database(auditPath, { readonly: true });
  try {
    return (
      db.prepare('SELECT count(*) AS n FROM audit_events WHERE seq IS NULL').get() as {
        n: number;
      }
    ).n;
  } finally {
    db.close();
  }
}

interface GraphqlMutationAnswer {
  data?: { setBackupVaultLock?: { result: string; auditId: string } } | null;
  errors?: { extensions?: { auditId?: string; errorCode?: string } }[];
}

/** One lock mutation over REST or GraphQL; throws when the connection dies. */
async function sendMutation(
  gatewayUrl: string,
  dispatcher: Agent,
  token: string,
  { target, action, retentionDays, viaGraphql }: Mutation,
): Promise<Observation> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  if (viaGraphql) {
    const input = {
      projectId: target.projectId,
      instanceId: target.id,
      action: action.toUpperCase(),
      lockRetentionDays: retentionDays,
    };
    const response = await request(`${gatewayUrl}/graphql`, {
      dispatcher,
      method: 'POST',
      headers,
      body: JSON.stringify({ query: SET_LOCK_MUTATION, variables: { input } }),
    });
    const answer = (await response.body.json()) as GraphqlMutationAnswer;
    const payload = answer.data?.setBackupVaultLock;
    const error = answer.errors?.[0]?.extensions;
    return {
      auditId: payload?.auditId ?? error?.auditId ?? null,
      succeeded: payload?.result === 'success',
      errorCode: error?.errorCode,
    };
  }
  const response = await request(`${gatewayUrl}${lockPath(target.projectId, target.id)}`, {
    dispatcher,
    method: 'PUT',
    headers,
    body: JSON.stringify(lockBody(action, retentionDays)),
  });
  const answer = (await response.body.json()) as { error_code?: string };
  return {
    auditId: (response.headers['x-audit-id'] as string | undefined) ?? null,
    succeeded: response.statusCode === 200,
    errorCode: answer.error_code,
  };
}

/**
 * Starts the simulator and the built gateway as child processes, sends a stream of lock
 * mutations from several clients, SIGKILLs the gateway at random points `kills` times and starts
 * it again each time, then checks the audit trail against what the clients were told.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = performance.now();
  const random = randomSource(options.seed);
  const workDir = mkdtempSync(join(tmpdir(), 'vlg-chaos-'));
  const auditPath = join(workDir, 'audit.sqlite');
  const simulator = await startSimulatorProcess();
  let gateway: Launched | undefined;
  try {
    const port = await freePort();
    const gatewayUrl = `http://127.0.0.1:${port}`;
    const gatewayEnv = {
      NODE_ENV: 'test',
      PORT: String(port),
      TAURUSDB_ENDPOINT: `${simulator.url}/{region}`,
      IAM_ENDPOINT: simulator.url,
      IAM_TOKEN_MODE: 'oidc',
      IAM_IDP_ID: 'chaos-idp',
      ...SERVICE_ACCOUNT_ENV,
      AUTH_JWKS_URL: `${simulator.url}/idp/jwks`,
      AUTH_ISSUER: `${simulator.url}/idp`,
      AUTH_AUDIENCE: DEV_AUDIENCE,
      AUDIT_SQLITE_PATH: auditPath,
      POLICY_FILE: 'config/policy.example.yaml',
      UPSTREAM_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'info',
      LOG_FILE: join(options.logDir, `chaos-${process.pid}-${options.seed}.log`),
    };
    // A PUT that takes a while at TaurusDB widens the window in which a kill leaves a row open.
    await post(`${simulator.url}/__admin/faults`, { route: 'taurusdb.putLock', latencyMs: 40 });
    const tokens = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, n) => {
        const minted = await post(`${simulator.url}/idp/dev/tokens`, {
          sub: `chaos-dba-${n}`,
          groups: ['dba'],
          expiresInSeconds: 3600,
        });
        return (minted as { token: string }).token;
      }),
    );

    const observations: Observation[] = [];
    const enabled = new Set<string>();
    let retentionDays = 30;
    let openAfterStart = 0;
    let sealedLateCounted = 0;

    const startGateway = async (): Promise<Launched> => {
      gateway = await startGatewayProcess(gatewayUrl, gatewayEnv);
      // The reconcile runs before the gateway listens: nothing may be left open now.
      openAfterStart += openRows(auditPath);
      const metrics = await (await fetch(`${gatewayUrl}/metrics`)).text();
      sealedLateCounted += sampleSum(metrics, 'gateway_audit_sealed_late_total') ?? Number.NaN;
      return gateway;
    };

    const nextMutation = (): Mutation => {
      const target = TARGETS[Math.floor(random() * TARGETS.length)];
      retentionDays = Math.min(retentionDays + 1, MAX_RETENTION_DAYS);
      return {
        target,
        action: enabled.has(target.id) ? 'extend' : 'enable',
        retentionDays,
        viaGraphql: random() < 1 / 3,
      };
    };

    /** One client sends mutations back to back until the gateway stops answering. */
    const client = async (token: string, dispatcher: Agent, onAnswer: () => void) => {
      for (;;) {
        const mutation = nextMutation();
        const observation = await sendMutation(gatewayUrl, dispatcher, token, mutation).catch(
          () => undefined,
        );
        observations.push(observation ?? { auditId: null, succeeded: false });
        if (observation === undefined) return;
        // A success lost to a kill still enabled the lock: TaurusDB says so on the next enable.
        if (observation.succeeded || observation.errorCode === 'DBS.280351') {
          enabled.add(mutation.target.id);
        }
        onAnswer();
      }
    };

    for (let kill = 0; kill < options.kills; kill += 1) {
      const running = await startGateway();
      const dispatcher = new Agent({ headersTimeout: 10_000, bodyTimeout: 10_000 });
      // The kill point: after a random number of answers, then a random part of a request.
      const answersBeforeKill = 1 + Math.floor(random() * MAX_ANSWERS_PER_ROUND);
      let answers = 0;
      const killPoint = new AbortController();
      const clients = tokens.map((token) =>
        client(token, dispatcher, () => {
          answers += 1;
          if (answers === answersBeforeKill) killPoint.abort();
        }),
      );
      await sleep(ROUND_TIMEOUT_MS, undefined, { signal: killPoint.signal }).catch(() => undefined);
      await sleep(random() * MAX_KILL_JITTER_MS);
      await stop(running.child, 'SIGKILL');
      await Promise.all(clients);
      await dispatcher.destroy();
    }
    // One more start closes what the last kill left open; then a clean stop.
    await stop((await startGateway()).child, 'SIGTERM');

    const db = new Database(auditPath, { readonly: true });
    let rows: { id: string; outcome: string | null; error_code: string | null }[];
    try {
      rows = db.prepare('SELECT id, outcome, error_code FROM audit_events').all() as typeof rows;
    } finally {
      db.close();
    }
    const outcomeById = new Map(rows.map((row) => [row.id, row.outcome]));
    const rowsLost = observations.filter((o) => {
      if (o.auditId === null) return o.succeeded;
      const outcome = outcomeById.get(o.auditId);
      return outcome === undefined || (o.succeeded && outcome !== 'succeeded');
    }).length;

    return {
      seed: options.seed,
      kills: options.kills,
      mutationsSent: observations.length,
      succeeded: observations.filter((o) => o.succeeded).length,
      rows: rows.length,
      closedAtRestart: rows.filter((row) => row.error_code === 'GW.CRASHED').length,
      rowsLost,
      openAfterStart,
      sealedLateCounted,
      verify: await runVerify({ sqlitePath: auditPath, databaseUrl: null }),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    if (gateway) await stop(gateway.child, 'SIGKILL');
    await stop(simulator.child, 'SIGTERM');
    rmSync(workDir, { recursive: true, force: true });
  }
}
