import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { closedPort } from '../src/redis/testing/closed-port.js';
import {
  requireRedis,
  TEST_COMMAND_TIMEOUT_MS,
  TEST_REDIS_URL,
  TestRedisSpace,
} from '../src/redis/testing/test-redis.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  clearFaults,
  graphql,
  type GraphqlAnswer,
  type HttpAnswer,
  injectFault,
  lockBody,
  lockPath,
  rest,
  SET_LOCK_MUTATION,
} from './support/clients.js';
import { until } from '../src/common/testing/polling.js';
import { startHarness, type Harness } from './support/gateway-harness.js';
import { untilRedisUp } from './support/readiness.js';

const describeWithRedis = (await requireRedis()) ? describe : describe.skip;

const KEY_RULE = 'must be 1 to 255 printable ASCII characters';
const { projectId, id: instanceId } = INSTANCES.financeProd;
const path = lockPath(projectId, instanceId);

/** A fresh key per use, so tests never share one by accident. */
const newKey = (label: string) => `${label}-${randomBytes(6).toString('hex')}`;

const restPut = (
  h: Harness,
  token: string,
  action: string,
  days: number,
  key?: string,
  target = path,
) =>
  rest(h, 'PUT', target, {
    token,
    body: lockBody(action, days),
    headers: key === undefined ? {} : { 'idempotency-key': key },
  });

const graphqlSet = (
  h: Harness,
  token: string,
  action: 'ENABLE' | 'EXTEND',
  days: number,
  idempotencyKey?: unknown,
  extra: Record<string, unknown> = {},
) =>
  graphql(
    h,
    SET_LOCK_MUTATION,
    {
      input: { projectId, instanceId, action, lockRetentionDays: days, idempotencyKey, ...extra },
    },
    token,
  );

const puts = (h: Harness) => h.simulator.calls()['taurusdb.putLock'] ?? 0;

function auditRowCount(h: Harness): number {
  const db = new Database(h.auditPath, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function auditOutcome(h: Harness, auditId: string): string | undefined {
  const db = new Database(h.auditPath, { readonly: true });
  try {
    const row = db.prepare('SELECT outcome FROM audit_events WHERE id = ?').get(auditId) as
      { outcome: string } | undefined;
    return row?.outcome;
  } finally {
    db.close();
  }
}

function expectReplayOf(replay: HttpAnswer, first: HttpAnswer): void {
  expect(replay.status).toBe(first.status);
  expect(replay.body).toEqual(first.body);
  expect(replay.headers.get('x-audit-id')).toBe(first.headers.get('x-audit-id'));
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(first.headers.get('idempotent-replayed')).toBeNull();
}

function payloadOf(answer: GraphqlAnswer): Record<string, unknown> {
  expect(answer.errors).toBeUndefined();
  return answer.data?.setBackupVaultLock as Record<string, unknown>;
}

/**
 * How long TaurusDB holds the first PUT in the tests of a key in use: long enough to outlast the
 * requests sent meanwhile, however long the machine stalls.
 */
const HELD_MS = 4_000;
/** The upstream deadline of those tests, far beyond HELD_MS: the held PUT must succeed. */
const HELD_PUT_DEADLINE_ENV = { UPSTREAM_TIMEOUT_MS: '10000' };

/** Waits until the simulator has received `count` PUTs in all. */
async function putsReach(h: Harness, count: number): Promise<void> {
  await until(`${count} PUTs at TaurusDB`, async () => (puts(h) >= count ? true : undefined));
  expect(puts(h)).toBe(count);
}

describe('idempotency keys in one gateway (kept in memory)', () => {
  let h: Harness;
  let token: string;

  beforeAll(async () => {
    h = await startHarness();
    token = await h.simulator.mintToken({ sub: 'idem-ida', groups: ['dba'] });
    // Enabled once, so the tests below extend it, each time a little further.
    expect((await restPut(h, token, 'enable', 10)).status).toBe(200);
  });
  afterEach(() => clearFaults(h));
  afterAll(() => h?.close());

  it('REST: the same key and request replay the first answer, with no new PUT or audit row', async () => {
    const key = newKey('rest');
    const [putsBefore, rowsBefore] = [puts(h), auditRowCount(h)];

    const first = await restPut(h, token, 'extend', 20, key);
    const replay = await restPut(h, token, 'EXTEND', 20, key);

    expect(first.status).toBe(200);
    expect(first.body).toEqual({ result: 'success' });
    expectReplayOf(replay, first);
    expect(puts(h) - putsBefore).toBe(1);
    expect(auditRowCount(h) - rowsBefore).toBe(1);
  });

  it('GraphQL: the same key and input replay the first payload, marked by the Idempotent-Replayed header', async () => {
    const key = newKey('graphql');
    const [putsBefore, rowsBefore] = [puts(h), auditRowCount(h)];

    const first = await graphqlSet(h, token, 'EXTEND', 30, key);
    const replay = await graphqlSet(h, token, 'EXTEND', 30, key);

    expect(payloadOf(first)).toMatchObject({ result: 'success' });
    expect(payloadOf(replay)).toEqual(payloadOf(first));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(puts(h) - putsBefore).toBe(1);
    expect(auditRowCount(h) - rowsBefore).toBe(1);
  });

  it("replays one channel's answer on the other, in the other's shape", async () => {
    const key = newKey('cross');
    const putsBefore = puts(h);

    const first = await restPut(h, token, 'extend', 40, key);
    const onGraphql = await graphqlSet(h, token, 'EXTEND', 40, key);
    const backOnRest = await restPut(h, token, 'extend', 40, key);

    expect(first.status).toBe(200);
    expect(payloadOf(onGraphql)).toMatchObject({
      result: 'success',
      auditId: first.headers.get('x-audit-id'),
      decision: { allowed: true, ruleId: 'finance-dba' },
    });
    expect(onGraphql.headers.get('idempotent-replayed')).toBe('true');
    expectReplayOf(backOnRest, first);
    expect(puts(h) - putsBefore).toBe(1);
  });

  it('refuses a key used for a different request with 422, on both channels, sending and auditing nothing', async () => {
    const key = newKey('reused');
    expect((await restPut(h, token, 'extend', 50, key)).status).toBe(200);
    const [putsBefore, rowsBefore] = [puts(h), auditRowCount(h)];

    const otherDays = await restPut(h, token, 'extend', 51, key);
    const otherInstance = await restPut(
      h,
      token,
      'extend',
      50,
      key,
      lockPath(projectId, INSTANCES.financeStaging.id),
    );
    const onGraphql = await graphqlSet(h, token, 'ENABLE', 50, key);

    for (const refused of [otherDays, otherInstance]) {
      expect(refused.status).toBe(422);
      expect(refused.body.error_code).toBe('GW.IDEMPOTENCY_KEY_REUSED');
      expect(String(refused.body.error_msg)).toMatch(/^Idempotency-Key: /);
      expect(refused.headers.get('x-audit-id')).toBeNull();
    }
    expect(onGraphql.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errorCode: 'GW.IDEMPOTENCY_KEY_REUSED',
    });
    expect(onGraphql.errors?.[0].message).toMatch(/^idempotencyKey: /);
    expect(puts(h)).toBe(putsBefore);
    expect(auditRowCount(h)).toBe(rowsBefore);

    // Keys are each caller's own: another caller's same key is another key.
    const other = await h.simulator.mintToken({ sub: 'idem-otto', groups: ['dba'] });
    expect((await restPut(h, other, 'extend', 51, key)).status).toBe(200);
  });

  it('does not store dry runs: each runs, and the key stays free for the real call', async () => {
    const key = newKey('dry');
    const dryRun = () =>
      rest(h, 'PUT', `${path}?dry_run=true`, {
        token,
        body: lockBody('extend', 70),
        headers: { 'idempotency-key': key },
      });
    const putsBefore = puts(h);

    const [one, two] = [await dryRun(), await dryRun()];
    const onGraphql = await graphqlSet(h, token, 'EXTEND', 70, key, { dryRun: true });
    const real = await restPut(h, token, 'extend', 70, key);

    for (const answer of [one, two]) {
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ result: 'dry-run' });
      expect(answer.headers.get('idempotent-replayed')).toBeNull();
    }
    expect(one.headers.get('x-audit-id')).not.toBe(two.headers.get('x-audit-id'));
    expect(payloadOf(onGraphql)).toMatchObject({ result: 'dry-run' });
    expect(real.status).toBe(200);
    expect(real.body).toEqual({ result: 'success' });
    expect(real.headers.get('idempotent-replayed')).toBeNull();
    expect(puts(h) - putsBefore).toBe(1);
  });

  it('replays a refusal as it came, request id and audit row included', async () => {
    const key = newKey('denied');
    const marketing = lockPath(INSTANCES.marketingProd.projectId, INSTANCES.marketingProd.id);
    const rowsBefore = auditRowCount(h);

    const first = await restPut(h, token, 'enable', 30, key, marketing);
    const replay = await restPut(h, token, 'enable', 30, key, marketing);

    expect(first.status).toBe(403);
    expect(first.body.error_code).toBe('GW.POLICY_DENIED');
    expectReplayOf(replay, first);
    expect(auditRowCount(h) - rowsBefore).toBe(1);
  });

  it('never sends a PUT again after an outcome it cannot know: the retry replays the 504', async () => {
    const key = newKey('unknown');
    const putsBefore = puts(h);
    // Longer than the harness's 2 s upstream deadline.
    await injectFault(h, { route: 'taurusdb.putLock', latencyMs: 2_500, times: 1 });

    const first = await restPut(h, token, 'extend', 80, key);
    const replay = await restPut(h, token, 'extend', 80, key);

    expect(first.status).toBe(504);
    expect(first.body.error_code).toBe('GW.UPSTREAM_TIMEOUT');
    expect(auditOutcome(h, first.headers.get('x-audit-id')!)).toBe('unknown');
    expectReplayOf(replay, first);
    expect(puts(h) - putsBefore).toBe(1);
  });

  it('lets the key go after a throttled PUT, so the retry with it is sent', async () => {
    const key = newKey('throttled');
    const putsBefore = puts(h);
    await injectFault(h, {
      route: 'taurusdb.putLock',
      status: 429,
      retryAfterSeconds: 1,
      times: 1,
    });

    const throttled = await restPut(h, token, 'extend', 90, key);
    const retried = await restPut(h, token, 'extend', 90, key);

    expect(throttled.status).toBe(429);
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(retried.headers.get('x-audit-id')).not.toBe(throttled.headers.get('x-audit-id'));
    expect(puts(h) - putsBefore).toBe(2);
  });

  it.each([
    { name: 'empty', key: '' },
    { name: '256 characters', key: 'k'.repeat(256) },
    { name: 'a character outside ASCII', key: 'clé-1' },
    { name: 'a control character', key: 'tab\there' },
  ])('refuses an Idempotency-Key that is $name: 400 naming the header and the rule', async (c) => {
    const [putsBefore, rowsBefore] = [puts(h), auditRowCount(h)];

    const answer = await restPut(h, token, 'extend', 100, c.key);

    expect(answer.status).toBe(400);
    expect(answer.body.error_code).toBe('GW.VALIDATION');
    expect(answer.body.error_msg).toBe(`Idempotency-Key: ${KEY_RULE}`);
    expect(puts(h)).toBe(putsBefore);
    expect(auditRowCount(h)).toBe(rowsBefore);
  });

  it.each([
    { name: 'empty', key: '' },
    { name: '256 characters', key: 'k'.repeat(256) },
    { name: 'a character outside ASCII', key: 'ключ' },
    { name: 'a line break', key: 'line\nbreak' },
  ])(
    'refuses an idempotencyKey that is $name: BAD_USER_INPUT naming the field and the rule',
    async (c) => {
      const [putsBefore, rowsBefore] = [puts(h), auditRowCount(h)];

      const answer = await graphqlSet(h, token, 'EXTEND', 100, c.key);

      expect(answer.errors?.[0].extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        errorCode: 'GW.VALIDATION',
      });
      expect(answer.errors?.[0].message).toContain(`idempotencyKey: ${KEY_RULE}`);
      expect(puts(h)).toBe(putsBefore);
      expect(auditRowCount(h)).toBe(rowsBefore);
    },
  );

  it.each([
    { name: '1 character', key: '~', days: 110 },
    {
      name: '255 characters with spaces and symbols',
      // A space inside the value: HTTP drops spaces around a header value.
      key: `!"#$%& '()*+,-./:;<=>?@[\\]^_\`{|}~${newKey('long')}`.padEnd(255, 'x'),
      days: 120,
    },
  ])('accepts an Idempotency-Key of $name', async (c) => {
    expect([1, 255]).toContain(c.key.length);
    const first = await restPut(h, token, 'extend', c.days, c.key);
    const replay = await restPut(h, token, 'extend', c.days, c.key);

    expect(first.status).toBe(200);
    expectReplayOf(replay, first);
  });
});

describe('idempotency keys in one gateway (kept in memory) while the first call runs', () => {
  let h: Harness;
  let token: string;

  beforeAll(async () => {
    h = await startHarness(HELD_PUT_DEADLINE_ENV);
    token = await h.simulator.mintToken({ sub: 'idem-ida', groups: ['dba'] });
    expect((await restPut(h, token, 'enable', 10)).status).toBe(200);
  });
  afterAll(() => h?.close());

  it('answers 409 while the first request with the key is running, then replays its answer', async () => {
    const key = newKey('running');
    const [putsBefore, rowsBefore] = [puts(h), auditRowCount(h)];
    await injectFault(h, { route: 'taurusdb.putLock', latencyMs: HELD_MS, times: 1 });

    const first = restPut(h, token, 'extend', 60, key);
    await putsReach(h, putsBefore + 1);
    const onRest = await restPut(h, token, 'extend', 60, key);
    const onGraphql = await graphqlSet(h, token, 'EXTEND', 60, key);
    const settled = await first;
    const replay = await restPut(h, token, 'extend', 60, key);

    expect(onRest.status).toBe(409);
    expect(onRest.body.error_code).toBe('GW.IDEMPOTENCY_IN_PROGRESS');
    expect(onRest.headers.get('retry-after')).toBe('1');
    expect(onGraphql.errors?.[0].extensions).toMatchObject({
      code: 'CONFLICT',
      errorCode: 'GW.IDEMPOTENCY_IN_PROGRESS',
    });
    expect(settled.status).toBe(200);
    expectReplayOf(replay, settled);
    expect(puts(h) - putsBefore).toBe(1);
    expect(auditRowCount(h) - rowsBefore).toBe(1);
  });
});

describeWithRedis('idempotency keys shared by two gateways through Redis', () => {
  let space: TestRedisSpace;
  let a: Harness;
  let b: Harness;
  let token: string;
  const sub = 'idem-shared-sam';

  beforeAll(async () => {
    space = new TestRedisSpace();
    const env = {
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: space.prefix,
      REDIS_COMMAND_TIMEOUT_MS: String(TEST_COMMAND_TIMEOUT_MS),
      TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
      ...HELD_PUT_DEADLINE_ENV,
    };
    a = await startHarness(env);
    b = await startHarness(env, { simulator: a.simulator });
    await untilRedisUp(a.url);
    await untilRedisUp(b.url);
    token = await a.simulator.mintToken({ sub, groups: ['dba'] });
    expect((await restPut(a, token, 'enable', 10)).status).toBe(200);
  });
  afterEach(() => clearFaults(a));
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await space?.close();
  });

  it('replays at one gateway the answer the other gave, on both channels, stored unreadably', async () => {
    const key = newKey('replica');
    const [putsBefore, rowsA, rowsB] = [puts(a), auditRowCount(a), auditRowCount(b)];

    const first = await restPut(a, token, 'extend', 20, key);
    const atB = await restPut(b, token, 'extend', 20, key);
    const atBGraphql = await graphqlSet(b, token, 'EXTEND', 20, key);

    expect(first.status).toBe(200);
    expectReplayOf(atB, first);
    expect(payloadOf(atBGraphql)).toMatchObject({ auditId: first.headers.get('x-audit-id') });
    expect(puts(a) - putsBefore).toBe(1);
    expect([auditRowCount(a) - rowsA, auditRowCount(b) - rowsB]).toEqual([1, 0]);

    const stored = (await space.keys()).filter((name) => name.includes('idempotency:'));
    expect(stored).toHaveLength(1);
    const ttlMs = await space.client.pttl(stored[0]);
    expect(ttlMs).toBeGreaterThan(24 * 3_600_000 - 60_000);
    expect(ttlMs).toBeLessThanOrEqual(24 * 3_600_000);
    const dump = await space.dump();
    for (const secret of [key, sub, token]) expect(dump).not.toContain(secret);
  });

  it('answers 409 at one gateway while the first request runs at the other', async () => {
    const key = newKey('replica-running');
    const putsBefore = puts(a);
    await injectFault(a, { route: 'taurusdb.putLock', latencyMs: HELD_MS, times: 1 });

    const first = restPut(a, token, 'extend', 30, key);
    await putsReach(a, putsBefore + 1);
    const atB = await restPut(b, token, 'extend', 30, key);
    const different = await restPut(b, token, 'extend', 31, key);

    expect(atB.status).toBe(409);
    expect(atB.body.error_code).toBe('GW.IDEMPOTENCY_IN_PROGRESS');
    expect(different.status).toBe(422);
    expect((await first).status).toBe(200);
    expectReplayOf(await restPut(b, token, 'extend', 30, key), await first);
    expect(puts(a) - putsBefore).toBe(1);
  });
});

describe('idempotency keys with Redis unreachable', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
      REDIS_KEY_PREFIX: 'vlg-idem-down:',
      TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
    });
  });
  afterAll(() => h?.close());

  it("keeps keys in the gateway's memory: the replay still comes, with no new PUT", async () => {
    const token = await h.simulator.mintToken({ sub: 'idem-down-dora', groups: ['dba'] });
    const key = newKey('down');

    const first = await restPut(h, token, 'enable', 30, key);
    const replay = await restPut(h, token, 'enable', 30, key);
    const reused = await restPut(h, token, 'enable', 31, key);

    expect(first.status).toBe(200);
    expectReplayOf(replay, first);
    expect(reused.status).toBe(422);
    expect(puts(h)).toBe(1);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toMatch(/gateway_redis_fallbacks_total\{use="idempotency"\} [1-9]/);
  });
});
