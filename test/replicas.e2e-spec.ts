import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithPostgres, TestDatabase } from '../src/audit/testing/postgres-test-database.js';
import { runVerify } from '../src/audit/verify-command.js';
import {
  requireRedis,
  TEST_COMMAND_TIMEOUT_MS,
  TEST_REDIS_URL,
  TestRedisSpace,
} from '../src/redis/testing/test-redis.js';
import { INSTANCES, LOAD_INSTANCES, type FixtureInstance } from '../src/simulator/fixtures.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/simulator.js';
import { freePort, startGatewayProcess, stop, type Launched } from './support/child-processes.js';
import { until } from '../src/common/testing/polling.js';
import { untilRedisUp } from './support/readiness.js';
import { injectFault, lockBody, lockPath, SET_LOCK_MUTATION } from './support/clients.js';
import { SERVICE_ACCOUNT_ENV } from './support/service-account.js';

/**
 * Two replicas of the built gateway (child processes) on one PostgreSQL database and one Redis
 * key prefix, driven by one stream of mutations on both channels; one replica is SIGKILLed while
 * a PUT of its own is open at TaurusDB, and started again. The checks afterwards are about what
 * the replicas share: the audit chain, the IAM tokens, the idempotency keys, the rate limits.
 */

/** Short, so that the dead replica's rows are closed within the test; a live one renews it thrice. */
const LEASE_SECONDS = 3;
/** Every stream principal stays well under it; the rate-limit principal goes one over. */
const MUTATIONS_PER_MINUTE = 60;
const CONCURRENCY = 16;
const STREAM_PRINCIPALS = 8;
/** Long enough that the held PUTs are still open when the kill lands, whatever the load. */
const HELD_PUT_LATENCY_MS = 30_000;
const UPSTREAM_TIMEOUT_MS = 60_000;

/** Dry runs go to the allowed fixture instances of both projects; real PUTs to load instances. */
const DRY_RUN_TARGETS = [INSTANCES.financeProd, INSTANCES.financeStaging, INSTANCES.apacProd];
const ENABLED_IN_PHASE_ONE = 30;
const HELD_TARGETS = LOAD_INSTANCES.slice(60, 62);

const redisUp = await requireRedis();

interface Mutation {
  /** Sent as X-Request-Id: the row's correlation id, so each row names the request it is for. */
  correlationId: string;
  principal: string;
  /** The replica a load balancer would pick; the other one while that one is down. */
  replica: 0 | 1;
  channel: 'rest' | 'graphql';
  target: FixtureInstance;
  action: 'enable' | 'extend';
  days: number;
  dryRun: boolean;
  idempotencyKey?: string;
}

/** What the client saw: an answer, or the connection failing (the replica died). */
interface Observation {
  mutation: Mutation;
  /** The replica it was sent to and which of its processes (0 first, 1 after the restart). */
  replica: 0 | 1;
  generation: number;
  status?: number;
  auditId?: string;
  replayed?: string | null;
  errorCode?: string;
  retryAfter?: string | null;
  body?: unknown;
  transportError?: string;
}

const acknowledged = (o: Observation): boolean =>
  o.status !== undefined && o.status >= 200 && o.status < 300 && o.auditId !== undefined;

interface AuditRow {
  id: string;
  seq: string | null;
  request_id: string;
  correlation_id: string | null;
  principal_sub: string;
  project_id: string;
  instance_id: string;
  dry_run: boolean;
  outcome: string | null;
  error_code: string | null;
  replica_id: string;
}

let sequence = 0;
const correlationId = () => `replicas-${sequence++}-${randomBytes(4).toString('hex')}`;

/** Runs `work` over `items`, at most `concurrency` at a time, in order of the list. */
async function pooled<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** One gateway process at a fixed port, which can be killed and started again there. */
class Replica {
  readonly url: string;
  launched: Launched | undefined;
  generation = -1;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  get up(): boolean {
    return this.launched !== undefined;
  }

  async start(): Promise<void> {
    this.generation += 1;
    const launched = await startGatewayProcess(this.url, {
      ...this.env,
      PORT: String(this.port),
      LOG_FILE: join(
        process.env.VLG_TEST_LOG_DIR ?? tmpdir(),
        `replicas-${process.pid}-${this.name}-${this.generation}.log`,
      ),
    });
    // Until Redis is connected a replica serves from its own memory: tokens, keys and counters
    // would not be shared yet, which is not what this test is about.
    await untilRedisUp(this.url).catch(async (error: unknown) => {
      await stop(launched.child, 'SIGKILL');
      throw error;
    });
    // Only now does the stream send to it.
    this.launched = launched;
  }

  async kill(): Promise<void> {
    const launched = this.launched;
    this.launched = undefined;
    if (launched) await stop(launched.child, 'SIGKILL');
  }
}

await describeWithPostgres('replicas on one PostgreSQL and one Redis', () => {
  (redisUp ? describe : describe.skip)('replicas on one PostgreSQL and one Redis', () => {
    let simulator: RunningSimulator;
    let db: TestDatabase;
    let space: TestRedisSpace;
    let workDir: string;
    const replicas: Replica[] = [];
    const tokens = new Map<string, string>();
    const observations: Observation[] = [];
    let victim: Replica;
    /** Open rows of the killed process, right after the kill. */
    let openAtKill: AuditRow[] = [];
    let heldCorrelationIds: string[] = [];
    let replays: Observation[] = [];
    let originals = new Map<string, Observation>();
    const putsAroundReplays: [number, number] = [0, 0];
    const rowsAroundReplays: [number, number] = [0, 0];

    const rows = () =>
      db.query<AuditRow>(
        `SELECT id, seq, request_id, correlation_id, principal_sub, project_id, instance_id,
                dry_run, outcome, error_code, replica_id
         FROM audit_events ORDER BY id`,
      );
    const puts = () => simulator.calls()['taurusdb.putLock'] ?? 0;

    async function tokenOf(principal: string): Promise<string> {
      let token = tokens.get(principal);
      if (token === undefined) {
        token = await simulator.mintToken({ sub: principal, groups: ['dba'] });
        tokens.set(principal, token);
      }
      return token;
    }

    /** Sends one mutation to `replica` (or to the other one while it is down). */
    async function send(mutation: Mutation, to: 0 | 1 = mutation.replica): Promise<Observation> {
      const index = replicas[to].up ? to : ((1 - to) as 0 | 1);
      const replica = replicas[index];
      const observation: Observation = { mutation, replica: index, generation: replica.generation };
      const headers: Record<string, string> = {
        authorization: `Bearer ${await tokenOf(mutation.principal)}`,
        'content-type': 'application/json',
        'x-request-id': mutation.correlationId,
      };
      const { target } = mutation;
      let response: Response;
      try {
        if (mutation.channel === 'rest') {
          if (mutation.idempotencyKey) headers['idempotency-key'] = mutation.idempotencyKey;
          const query = mutation.dryRun ? '?dry_run=true' : '';
          response = await fetch(`${replica.url}${lockPath(target.projectId, target.id)}${query}`, {
            method: 'PUT',
            headers,
            body: JSON.stringify(lockBody(mutation.action, mutation.days)),
          });
        } else {
          const input = {
            projectId: target.projectId,
            instanceId: target.id,
            action: mutation.action.toUpperCase(),
            lockRetentionDays: mutation.days,
            dryRun: mutation.dryRun,
            ...(mutation.idempotencyKey ? { idempotencyKey: mutation.idempotencyKey } : {}),
          };
          response = await fetch(`${replica.url}/graphql`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ query: SET_LOCK_MUTATION, variables: { input } }),
          });
        }
        observation.status = response.status;
        observation.replayed = response.headers.get('idempotent-replayed');
        observation.retryAfter = response.headers.get('retry-after');
        const body = (await response.json()) as Record<string, unknown>;
        observation.body = body;
        if (mutation.channel === 'rest') {
          observation.auditId = response.headers.get('x-audit-id') ?? undefined;
          observation.errorCode = body.error_code as string | undefined;
          if (response.status !== 200) observation.auditId = undefined;
        } else {
          const graphqlBody = body as {
            data?: { setBackupVaultLock?: { auditId: string } } | null;
            errors?: { extensions?: { errorCode?: string } }[];
          };
          observation.auditId = graphqlBody.data?.setBackupVaultLock?.auditId;
          observation.errorCode = graphqlBody.errors?.[0]?.extensions?.errorCode;
        }
      } catch (error) {
        observation.transportError = (error as Error).message;
      }
      observations.push(observation);
      return observation;
    }

    /** The stream's mutations, spread over principals, replicas, channels and targets. */
    function stream(count: number, realPuts: FixtureInstance[], action: 'enable' | 'extend') {
      const mutations: Mutation[] = [];
      let real = 0;
      for (let n = 0; n < count; n++) {
        const isReal = n % 5 === 1 && real < realPuts.length;
        const target = isReal ? realPuts[real++] : DRY_RUN_TARGETS[n % DRY_RUN_TARGETS.length];
        mutations.push({
          correlationId: correlationId(),
          principal: `replica-dba-${n % STREAM_PRINCIPALS}`,
          // Not the principal's parity: each principal reaches both replicas.
          replica: ((n + Math.floor(n / STREAM_PRINCIPALS)) % 2) as 0 | 1,
          channel: n % 3 === 0 ? 'graphql' : 'rest',
          target,
          action: isReal ? action : 'enable',
          days: isReal ? (action === 'enable' ? 30 : 60) : 10 + (n % 50),
          dryRun: !isReal,
          // Every other real PUT carries a key, to be replayed at the other replica later.
          idempotencyKey: isReal && real % 2 === 0 ? `replicas-key-${correlationId()}` : undefined,
        });
      }
      return mutations;
    }

    beforeAll(async () => {
      workDir = mkdtempSync(join(tmpdir(), 'vlg-replicas-'));
      simulator = await startSimulator({ port: 0 });
      db = await TestDatabase.create();
      space = new TestRedisSpace();
      const env = {
        NODE_ENV: 'test',
        TAURUSDB_ENDPOINT: `${simulator.url}/{region}`,
        IAM_ENDPOINT: simulator.url,
        IAM_TOKEN_MODE: 'oidc',
        IAM_IDP_ID: 'replicas-idp',
        ...SERVICE_ACCOUNT_ENV,
        AUTH_JWKS_URL: simulator.jwksUrl,
        AUTH_ISSUER: simulator.idpIssuer,
        AUTH_AUDIENCE: simulator.audience,
        // Never opened: PostgreSQL wins. Set so that nothing lands in the worktree's data/.
        AUDIT_SQLITE_PATH: join(workDir, 'unused.sqlite'),
        AUDIT_DATABASE_URL: db.url,
        AUDIT_REPLICA_LEASE_SECONDS: String(LEASE_SECONDS),
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: space.prefix,
        REDIS_COMMAND_TIMEOUT_MS: String(TEST_COMMAND_TIMEOUT_MS),
        TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
        RATE_LIMIT_MUTATIONS_PER_MINUTE: String(MUTATIONS_PER_MINUTE),
        RATE_LIMIT_READS_PER_MINUTE: '100000',
        POLICY_FILE: 'config/policy.example.yaml',
        UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
        LOG_LEVEL: 'info',
      };
      replicas.push(
        new Replica('a', await freePort(), env),
        new Replica('b', await freePort(), env),
      );
      // One after the other: the first one migrates the fresh database.
      for (const replica of replicas) await replica.start();
      victim = replicas[1];

      // Phase one, to completion: every principal reaches every project at both replicas, so
      // every IAM token is in Redis before anything is killed.
      const enabledTargets = LOAD_INSTANCES.slice(0, ENABLED_IN_PHASE_ONE);
      await pooled(stream(150, enabledTargets, 'enable'), CONCURRENCY, (m) => send(m));

      // Phase two: PUTs held open at TaurusDB by the victim, the stream running meanwhile.
      await injectFault(
        { simulator },
        { route: 'taurusdb.putLock', latencyMs: HELD_PUT_LATENCY_MS, times: HELD_TARGETS.length },
      );
      const putsBeforeHeld = puts();
      const held: Mutation[] = HELD_TARGETS.map((target, n) => ({
        correlationId: correlationId(),
        principal: `replica-dba-${n}`,
        replica: 1,
        channel: n === 0 ? 'rest' : 'graphql',
        target,
        action: 'enable',
        days: 30,
        dryRun: false,
      }));
      heldCorrelationIds = held.map((m) => m.correlationId);
      const heldSent = held.map((m) => send(m));
      const phaseTwo = pooled(stream(50, [], 'enable'), CONCURRENCY, (m) => send(m));
      await until('the held PUTs to reach TaurusDB', async () =>
        puts() === putsBeforeHeld + HELD_TARGETS.length ? true : undefined,
      );
      await victim.kill();
      // The held PUTs' rows name the killed process; every row it left open is in that list.
      const atKill = await rows();
      const killedIds = new Set(
        atKill
          .filter((row) => heldCorrelationIds.includes(row.correlation_id as string))
          .map((row) => row.replica_id),
      );
      openAtKill = atKill.filter((row) => row.seq === null && killedIds.has(row.replica_id));
      await victim.start();
      await Promise.all([phaseTwo, ...heldSent]);

      // Phase three: the restarted replica back in the stream; real extends of phase one's locks.
      await pooled(stream(100, enabledTargets, 'extend'), CONCURRENCY, (m) => send(m));

      // Every keyed PUT that was answered, replayed at the replica that did not answer it.
      originals = new Map(
        observations
          .filter((o) => o.mutation.idempotencyKey !== undefined && acknowledged(o))
          .map((o) => [o.mutation.idempotencyKey as string, o]),
      );
      putsAroundReplays[0] = puts();
      rowsAroundReplays[0] = (await rows()).length;
      replays = await pooled([...originals.values()], CONCURRENCY, (original) =>
        send(
          { ...original.mutation, correlationId: correlationId() },
          (1 - original.replica) as 0 | 1,
        ),
      );
      putsAroundReplays[1] = puts();
      rowsAroundReplays[1] = (await rows()).length;
    }, 120_000);

    afterAll(async () => {
      for (const replica of replicas) await replica.kill();
      await simulator?.close();
      await space?.close();
      await db?.drop();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    const streamObservations = () =>
      observations.filter((o) => !replays.includes(o) && !o.mutation.principal.startsWith('rate-'));

    it('answer every mutation of the stream, except those the killed process held', () => {
      const all = streamObservations();
      expect(all.length).toBeGreaterThanOrEqual(200);
      const unanswered = all.filter((o) => !acknowledged(o));
      // Only the killed process may have left a request unanswered, and only by dying.
      expect(
        unanswered.filter((o) => !(o.replica === 1 && o.generation === 0 && o.transportError)),
      ).toEqual([]);
      for (const id of heldCorrelationIds) {
        expect(unanswered.map((o) => o.mutation.correlationId)).toContain(id);
      }
      const answered = all.filter(acknowledged);
      expect(answered.length).toBeGreaterThanOrEqual(200);
      // Both replicas, both channels, real PUTs and dry runs, before and after the restart.
      for (const [replica, generation] of [
        [0, 0],
        [1, 0],
        [1, 1],
      ]) {
        const here = answered.filter((o) => o.replica === replica && o.generation === generation);
        expect(here.some((o) => o.mutation.channel === 'graphql')).toBe(true);
        expect(here.some((o) => o.mutation.channel === 'rest')).toBe(true);
        expect(here.some((o) => !o.mutation.dryRun)).toBe(true);
      }
    });

    it("close the killed replica's open rows as unknown once its lease has run out", async () => {
      expect(openAtKill.map((row) => row.correlation_id)).toEqual(
        expect.arrayContaining(heldCorrelationIds),
      );
      expect(new Set(openAtKill.map((row) => row.replica_id)).size).toBe(1);
      const ids = new Set(openAtKill.map((row) => row.id));
      const closed = await until(
        "a live replica's reconcile to close the killed one's rows",
        async () => {
          const now = (await rows()).filter((row) => ids.has(row.id));
          return now.every((row) => row.seq !== null) ? now : undefined;
        },
      );
      expect(closed.map(({ outcome, error_code }) => ({ outcome, error_code }))).toEqual(
        closed.map(() => ({ outcome: 'unknown', error_code: 'GW.CRASHED' })),
      );
      // Closed by another process: the restarted one is a new replica, not the one that died.
      const live = await db.query<{ replica_id: string }>(
        'SELECT replica_id FROM audit_replicas WHERE lease_until > now()',
      );
      expect(live.map((r) => r.replica_id)).not.toContain(openAtKill[0].replica_id);
    });

    it('keep one chain that verifies, with every acknowledged mutation in it once', async () => {
      const stored = await rows();
      expect(stored.filter((row) => row.seq === null)).toEqual([]);
      expect(new Set(stored.map((row) => row.id)).size).toBe(stored.length);
      expect(new Set(stored.map((row) => row.request_id)).size).toBe(stored.length);
      // One row per request at most: each row names the request it is for.
      const correlationIds = stored.map((row) => row.correlation_id);
      expect(correlationIds).not.toContain(null);
      expect(new Set(correlationIds).size).toBe(stored.length);
      const sent = new Set(observations.map((o) => o.mutation.correlationId));
      expect(correlationIds.filter((id) => !sent.has(id as string))).toEqual([]);

      const byId = new Map(stored.map((row) => [row.id, row]));
      for (const o of streamObservations().filter(acknowledged)) {
        expect({ request: o.mutation.correlationId, row: byId.get(o.auditId as string) }).toEqual({
          request: o.mutation.correlationId,
          row: expect.objectContaining({
            correlation_id: o.mutation.correlationId,
            principal_sub: o.mutation.principal,
            instance_id: o.mutation.target.id,
            dry_run: o.mutation.dryRun,
            outcome: 'succeeded',
          }),
        });
      }

      expect(
        await runVerify({ sqlitePath: join(workDir, 'unused.sqlite'), databaseUrl: db.url }),
      ).toEqual({
        exitCode: 0,
        output: `audit chain OK: ${stored.length} rows\n`,
      });
    });

    it('answer a replay at the other replica from the first answer: no new PUT, no new row', async () => {
      expect(replays.length).toBeGreaterThanOrEqual(10);
      expect(replays.some((o) => o.mutation.channel === 'graphql')).toBe(true);
      expect(replays.some((o) => o.mutation.channel === 'rest')).toBe(true);
      for (const replay of replays) {
        const original = originals.get(replay.mutation.idempotencyKey as string) as Observation;
        expect(replay.replica).not.toBe(original.replica);
        expect({
          body: replay.body,
          status: replay.status,
          replayed: replay.replayed,
          auditId: replay.auditId,
        }).toEqual({
          body: original.body,
          status: original.status,
          replayed: 'true',
          auditId: original.auditId,
        });
        expect(replay.body).toEqual(original.body);
        expect(original.replayed).toBeNull();
      }
      expect(putsAroundReplays[1]).toBe(putsAroundReplays[0]);
      expect(rowsAroundReplays[1]).toBe(rowsAroundReplays[0]);
    });

    it("count one principal's mutations across both replicas: the one over the limit is 429", async () => {
      const principal = 'rate-rita';
      const answers: Observation[] = [];
      for (let n = 0; n <= MUTATIONS_PER_MINUTE; n++) {
        answers.push(
          await send({
            correlationId: correlationId(),
            principal,
            replica: (n % 2) as 0 | 1,
            // Both channels count; the last one (n = MUTATIONS_PER_MINUTE) goes over REST.
            channel: (MUTATIONS_PER_MINUTE - n) % 3 === 1 ? 'graphql' : 'rest',
            target: INSTANCES.financeStaging,
            action: 'enable',
            days: 30,
            dryRun: true,
          }),
        );
      }
      const last = answers.pop() as Observation;
      expect(answers.filter((o) => !acknowledged(o))).toEqual([]);
      expect(new Set(answers.map((o) => o.replica)).size).toBe(2);
      expect(new Set(answers.map((o) => o.mutation.channel)).size).toBe(2);
      expect(last.mutation.channel).toBe('rest');
      expect(last.status).toBe(429);
      expect(last.errorCode).toBe('GW.RATE_LIMITED');
      const retryAfter = Number(last.retryAfter);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    });

    it('make at most one IAM exchange per principal and project across both replicas', () => {
      const pairs = new Set(
        observations
          .filter(acknowledged)
          .map((o) => `${o.mutation.principal} ${o.mutation.target.projectId}`),
      );
      // Each stream principal reached both projects; the rate-limit principal one of them.
      expect(pairs.size).toBe(STREAM_PRINCIPALS * 2 + 1);
      expect(simulator.calls()['iam.oidc']).toBe(pairs.size);
    });
  });
});
