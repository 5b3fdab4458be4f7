import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { IamTokenProvider } from '../src/auth/iam/iam-token-provider.js';
import { Principal } from '../src/domain/principal.js';
import { closedPort } from '../src/redis/testing/closed-port.js';
import {
  requireRedis,
  TEST_COMMAND_TIMEOUT_MS,
  TEST_REDIS_URL,
  TestRedisSpace,
} from '../src/redis/testing/test-redis.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  graphql,
  type HttpAnswer,
  lockBody,
  lockPath,
  rest,
  SET_LOCK_MUTATION,
  SHOW_LOCK_QUERY,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';
import { untilRedisUp } from './support/readiness.js';
import { TcpRelay } from './support/tcp-relay.js';

const redisUp = await requireRedis();
const describeWithRedis = redisUp ? describe : describe.skip;

const TOKEN_CACHE_KEY = randomBytes(32).toString('base64');
const MUTATIONS_PER_MINUTE = 3;
const READS_PER_MINUTE = 6;
const { projectId, id: instanceId } = INSTANCES.financeStaging;
const path = lockPath(projectId, instanceId);

function sharedStateEnv(redisUrl: string, prefix: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    REDIS_COMMAND_TIMEOUT_MS: String(TEST_COMMAND_TIMEOUT_MS),
    TOKEN_CACHE_KEY,
    RATE_LIMIT_MUTATIONS_PER_MINUTE: String(MUTATIONS_PER_MINUTE),
    RATE_LIMIT_READS_PER_MINUTE: String(READS_PER_MINUTE),
  };
}

const restDryRun = (h: Harness, token: string) =>
  rest(h, 'PUT', `${path}?dry_run=true`, { token, body: lockBody('enable', 30) });

const graphqlDryRun = (h: Harness, token: string) =>
  graphql(
    h,
    SET_LOCK_MUTATION,
    {
      input: { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 30, dryRun: true },
    },
    token,
  );

const graphqlShow = (h: Harness, token: string) =>
  graphql(h, SHOW_LOCK_QUERY, { projectId, instanceId }, token);

async function iamCalls(h: Harness): Promise<Record<string, number>> {
  return (await (await fetch(`${h.simulator.url}/__admin/calls`)).json()) as Record<string, number>;
}

interface Readiness {
  status: string;
  info?: Record<string, { status: string }>;
  error?: Record<string, { status: string; message?: string }>;
}

async function readiness(h: Harness): Promise<{ status: number; body: Readiness }> {
  const answer = await fetch(`${h.url}/health/ready`);
  return { status: answer.status, body: (await answer.json()) as Readiness };
}

/** Readiness changes as the Redis connection notices; poll it, a bounded number of times. */
async function readinessBecomes(h: Harness, status: string): Promise<Readiness> {
  let last = await readiness(h);
  for (let round = 0; round < 100 && last.body.status !== status; round++) {
    await sleep(100);
    last = await readiness(h);
  }
  expect(last.status).toBe(200);
  expect(last.body.status).toBe(status);
  return last.body;
}

function expectRateLimitedRest(answer: HttpAnswer): void {
  expect(answer.status).toBe(429);
  expect(answer.body.error_code).toBe('GW.RATE_LIMITED');
  const retryAfter = Number(answer.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

/** GraphQL convention: the refusal is an error in a 200 answer, with the same Retry-After. */
function expectRateLimitedGraphql(answer: Awaited<ReturnType<typeof graphql>>): void {
  expect(answer.status).toBe(200);
  expect(answer.data ?? null).toBeNull();
  expect(answer.errors?.[0].extensions).toMatchObject({
    code: 'RATE_LIMITED',
    errorCode: 'GW.RATE_LIMITED',
  });
  const retryAfter = Number(answer.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(answer.errors?.[0].extensions?.retryAfterSeconds).toBe(retryAfter);
}

/** The instance's audit rows, read back through the gateway's own audit API. */
async function auditRows(h: Harness): Promise<{ id: string; outcome: string }[]> {
  const auditor = await h.simulator.mintToken({
    sub: `auditor-${randomBytes(4).toString('hex')}`,
    groups: ['auditor'],
  });
  const trail = await rest<{ events: { id: string; outcome: string }[] }>(
    h,
    'GET',
    `/v1/audit-events?instance_id=${instanceId}&limit=500`,
    { token: auditor },
  );
  return trail.body.events;
}

async function auditedOutcome(h: Harness, auditId: string): Promise<string | undefined> {
  return (await auditRows(h)).find((event) => event.id === auditId)?.outcome;
}

describeWithRedis('two gateways sharing one Redis', () => {
  let space: TestRedisSpace;
  let a: Harness;
  let b: Harness;

  beforeAll(async () => {
    space = new TestRedisSpace();
    const env = sharedStateEnv(TEST_REDIS_URL, space.prefix);
    a = await startHarness(env);
    b = await startHarness(env, { simulator: a.simulator });
    // On Redis from the first call: a gateway still connecting would count in its own memory.
    await untilRedisUp(a.url);
    await untilRedisUp(b.url);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await space?.close();
  });

  it('make one IAM exchange per principal and project between them, stored unreadably', async () => {
    const subs = ['shared-sam', 'shared-sue'];
    const jwts = await Promise.all(
      subs.map((sub) => a.simulator.mintToken({ sub, groups: ['dba'] })),
    );
    const before = (await iamCalls(a))['iam.oidc'] ?? 0;

    const answers = await Promise.all(
      jwts.flatMap((jwt) => [a, b, a, b, a, b].map((h) => rest(h, 'GET', path, { token: jwt }))),
    );

    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    expect((await iamCalls(a))['iam.oidc'] - before).toBe(subs.length);

    // The exact IAM tokens the gateways hold (cache hits, no new exchange).
    const iamTokens = await Promise.all(
      subs.map((sub, n) =>
        b.app
          .get(IamTokenProvider)
          .tokenFor(new Principal(a.simulator.idpIssuer, sub, ['dba'], jwts[n]), projectId),
      ),
    );
    expect((await iamCalls(a))['iam.oidc'] - before).toBe(subs.length);
    const dump = await space.dump();
    expect(dump).not.toBe('');
    for (const secret of [
      ...iamTokens.flatMap((token) => [token.value(), token.value().slice(100, 132)]),
      ...jwts,
      ...subs,
      projectId,
    ]) {
      expect(dump).not.toContain(secret);
    }
  });

  it("count a principal's mutations across both gateways and both channels: 429 with Retry-After", async () => {
    const rita = await a.simulator.mintToken({ sub: 'rate-rita', groups: ['dba'] });
    const other = await a.simulator.mintToken({ sub: 'rate-other', groups: ['dba'] });

    const allowed = [
      (await restDryRun(a, rita)).status,
      (await graphqlDryRun(b, rita)).errors,
      (await restDryRun(b, rita)).status,
    ];
    expect(allowed).toEqual([200, undefined, 200]);

    const rowsBefore = [(await auditRows(a)).length, (await auditRows(b)).length];
    expectRateLimitedRest(await restDryRun(a, rita));
    expectRateLimitedGraphql(await graphqlDryRun(b, rita));
    expectRateLimitedRest(
      await rest(a, 'PUT', path, { token: rita, body: lockBody('enable', 30) }),
    );
    // Refused before anything was decided or sent: no audit row, no PUT upstream.
    expect([(await auditRows(a)).length, (await auditRows(b)).length]).toEqual(rowsBefore);
    expect(a.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);

    // Another caller, Rita's reads, and requests without a caller are not held back by it.
    expect((await restDryRun(b, other)).status).toBe(200);
    expect((await rest(a, 'GET', path, { token: rita })).status).toBe(200);
    expect((await rest(a, 'PUT', path, { body: lockBody('enable', 30) })).status).toBe(401);
    expect((await fetch(`${a.url}/health/live`)).status).toBe(200);
  });

  it("count a principal's reads across both gateways and both channels", async () => {
    const reed = await a.simulator.mintToken({ sub: 'rate-reed', groups: ['dba'] });

    for (let read = 0; read < READS_PER_MINUTE / 2; read++) {
      expect((await rest(a, 'GET', path, { token: reed })).status).toBe(200);
      expect((await graphqlShow(b, reed)).errors).toBeUndefined();
    }

    expectRateLimitedGraphql(await graphqlShow(a, reed));
    expectRateLimitedRest(await rest(b, 'GET', path, { token: reed }));
    expect((await restDryRun(a, reed)).status).toBe(200);
  });

  it('report Redis in readiness while it answers', async () => {
    const ready = await readiness(a);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ok');
    expect(ready.body.info?.redis).toMatchObject({ status: 'up' });
  });
});

describe('a gateway whose Redis is unreachable', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(sharedStateEnv(`redis://127.0.0.1:${await closedPort()}`, 'vlg-down:'));
  });
  afterAll(() => h?.close());

  it('serves from its own memory, audits every mutation, and says degraded', async () => {
    const dana = await h.simulator.mintToken({ sub: 'down-dana', groups: ['dba'] });

    const enabled = await rest(h, 'PUT', path, { token: dana, body: lockBody('enable', 30) });
    const dry = await restDryRun(h, dana);

    expect(enabled.status).toBe(200);
    expect(dry.status).toBe(200);
    expect(await auditedOutcome(h, enabled.headers.get('x-audit-id')!)).toBe('succeeded');
    expect(await auditedOutcome(h, dry.headers.get('x-audit-id')!)).toBe('succeeded');
    expect(h.simulator.calls()['iam.oidc']).toBe(1);
    expect(h.simulator.calls()['taurusdb.putLock']).toBe(1);

    const ready = await readinessBecomes(h, 'degraded');
    expect(ready.error?.redis?.status).toBe('down');
    expect(Object.keys(ready.info ?? {}).sort()).toEqual(['audit', 'iam', 'policy', 'taurusdb']);
  });

  it('still limits each caller, counting in memory', async () => {
    const max = await h.simulator.mintToken({ sub: 'down-max', groups: ['dba'] });
    for (let call = 0; call < MUTATIONS_PER_MINUTE; call++) {
      expect((await restDryRun(h, max)).status).toBe(200);
    }
    expectRateLimitedRest(await restDryRun(h, max));
  });
});

describeWithRedis('a gateway whose Redis goes away mid-run and comes back', () => {
  let space: TestRedisSpace;
  let relay: TcpRelay;
  let h: Harness;

  beforeAll(async () => {
    space = new TestRedisSpace();
    const target = new URL(TEST_REDIS_URL);
    relay = new TcpRelay(target.hostname, Number(target.port || 6379));
    await relay.open();
    h = await startHarness(sharedStateEnv(`redis://127.0.0.1:${relay.port}`, space.prefix));
  });
  afterAll(async () => {
    await h?.close();
    await relay?.cut();
    await space?.close();
  });

  it('keeps serving and auditing while Redis is gone, and uses it again once it is back', async () => {
    const tokenEntries = async () =>
      (await space.keys()).filter((key) => key.startsWith(`${space.prefix}iam:token:`)).length;
    const caller = async (sub: string) => h.simulator.mintToken({ sub, groups: ['dba'] });

    await readinessBecomes(h, 'ok');
    expect((await restDryRun(h, await caller('before-bea'))).status).toBe(200);
    expect(await tokenEntries()).toBe(1);

    await relay.cut();
    const during = await rest(h, 'PUT', path, {
      token: await caller('during-dov'),
      body: lockBody('enable', 30),
    });
    expect(during.status).toBe(200);
    expect(await auditedOutcome(h, during.headers.get('x-audit-id')!)).toBe('succeeded');
    expect((await readinessBecomes(h, 'degraded')).error?.redis?.status).toBe('down');
    expect(await tokenEntries()).toBe(1);

    await relay.open();
    await readinessBecomes(h, 'ok');
    expect((await restDryRun(h, await caller('after-ali'))).status).toBe(200);
    expect(await tokenEntries()).toBe(2);
  });
});
