// Proves, over real HTTP with generated inputs (valid-shaped and hostile mixed): no input makes the
// gateway answer 5xx or stop answering, every error has the contract's shape, no invalid input
// reaches IAM or TaurusDB, and valid dry runs on allowed instances succeed. Also, by class: no
// GraphQL request runs without a valid token; a string groups claim splits at ASCII spaces only;
// audit time filters take RFC 3339 only and compare as instants; nesting past the limit is
// refused with 400 on every channel; any GraphQL request envelope gets a 4xx with code,
// errorCode and requestId, or an answer. And from a hostile upstream (any error code and
// message, details of another instance, repeated tag keys): no upstream word passes as the
// gateway's own; denials tell callers with any groups nothing of the instance or of other rules,
// and always leave a row.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ENTERPRISE_PROJECTS, INSTANCES, PROJECTS } from '../src/simulator/fixtures.js';
import {
  clearFaults,
  graphql,
  injectFault,
  lockBody,
  lockPath,
  SET_LOCK_MUTATION,
  SHOW_LOCK_QUERY,
  upstreamCalls,
  type GraphqlAnswer,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';
import { readLogLines } from './support/log-file.js';

/** Runs per property; the total is what CI must execute (issue 4: at least 5,000). */
const RUNS = {
  restPut: 1200,
  restGet: 800,
  headers: 300,
  graphqlVariables: 800,
  documents: 1900,
  identities: 200,
  upstreamStrings: 150,
  graphqlTokens: 300,
  groupsClaims: 150,
  timeFilters: 300,
  nesting: 300,
  graphqlEnvelopes: 500,
  upstreamAnswers: 300,
  denials: 200,
};
const TARGET_TOTAL = 5000;
/** The gateway's own codes, and the upstream-shaped codes it passes on (TaurusDB's, Huawei's API gateway's). */
const ERROR_CODE = /^(GW\.[A-Z_]+|DBS\.\d{6}|APIGW\.\d{4})$/;
/**
 * Per property: a guard against a hang, not a speed target. Every case runs however slow the
 * machine is; only a property that cannot finish at all fails on it.
 */
const PROPERTY_TIMEOUT_MS = 300_000;

// The rules of DESIGN §1, written out here rather than imported so that a wrong rule in the
// gateway cannot also be the test's oracle.
const PROJECT_ID = /^[A-Za-z0-9]{32}$/;
const INSTANCE_ID = /^[A-Za-z0-9]{32}in07$/;
const MAX_DAYS = 36500;
/** The example policy's `maxRetentionDays` for the dba rule. */
const POLICY_MAX_DAYS = 3650;
/** How deep a JSON body, and a GraphQL document's brackets, braces and parentheses, may nest. */
const MAX_NESTING = 32;

/** RFC 3339 §5.6 date-time, seconds 00-59 (no stored time has a leap second), years 0000-9999. */
function isRfc3339(text: string): boolean {
  const m = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-](\d\d):(\d\d))$/.exec(
    text,
  );
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  const offsetOk = m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  return (
    days !== undefined &&
    day >= 1 &&
    day <= days &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetOk
  );
}

type Target = { projectId: string; instanceId: string; kind: 'allowed' | 'denied' | 'unknown' };
interface Generated<T> {
  valid: boolean;
  value: T;
}
const valid = <T>(value: T): Generated<T> => ({ valid: true, value });
const invalid = <T>(value: T): Generated<T> => ({ valid: false, value });

const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
/** Characters an attacker would put in an ID: separators, encodings, NUL, look-alikes. */
const hostileChar = fc.constantFrom(
  ...['/', '\\', '.', '..', '%', '%2F', '?', '#', '\u0000', '\n', ' ', '_', '-', '+', ';'],
  ...['а', 'о', '１', '０', 'ｉｎ', 'é', '😀', '\u200b', '$', '{', '"', "'"],
);

const targets: Target[] = [
  { ...pair(INSTANCES.financeProd), kind: 'allowed' },
  { ...pair(INSTANCES.financeStaging), kind: 'allowed' },
  { ...pair(INSTANCES.marketingProd), kind: 'denied' },
  { ...pair(INSTANCES.financeDev), kind: 'denied' },
];
function pair(instance: { projectId: string; id: string }) {
  return { projectId: instance.projectId, instanceId: instance.id };
}

const validTarget: fc.Arbitrary<Target> = fc.oneof(
  { arbitrary: fc.constantFrom(...targets), weight: 4 },
  {
    arbitrary: fc.record({
      projectId: fc.string({ unit: alnum, minLength: 32, maxLength: 32 }),
      instanceId: fc.string({ unit: alnum, minLength: 32, maxLength: 32 }).map((s) => `${s}in07`),
      kind: fc.constant('unknown' as const),
    }),
    weight: 1,
  },
);

/** A valid ID with one hostile insertion or replacement, a wrong length, or anything at all. */
function badId(good: string, rule: RegExp): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc
        .tuple(fc.nat({ max: good.length - 1 }), hostileChar, fc.boolean())
        .map(([at, ch, replace]) => good.slice(0, at) + ch + good.slice(at + (replace ? 1 : 0))),
      fc.nat({ max: good.length - 1 }).map((n) => good.slice(0, n)),
      fc.string({ unit: alnum, minLength: 1, maxLength: 8 }).map((extra) => good + extra),
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
    )
    .filter((id) => !rule.test(id));
}

const idsArb: fc.Arbitrary<Generated<Target>> = fc.oneof(
  { arbitrary: validTarget.map(valid), weight: 3 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom(...targets), fc.boolean())
      .chain(([t, breakProject]) =>
        breakProject
          ? badId(t.projectId, PROJECT_ID).map((projectId) => ({ ...t, projectId }))
          : badId(t.instanceId, INSTANCE_ID).map((instanceId) => ({ ...t, instanceId })),
      )
      .map(invalid),
    weight: 1,
  },
);

const validDays = fc.integer({ min: 1, max: MAX_DAYS });
const badDays: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ max: 0 }),
  fc.integer({ min: MAX_DAYS + 1 }),
  fc.double({ min: 1, max: MAX_DAYS, noInteger: true, noNaN: true }),
  validDays.map(String),
  fc.constantFrom(null, true, [], {}, '30', '1e3'),
);
const action = fc.constantFrom('enable', 'extend');
/** Any code point, lone surrogates included: text JSON can carry and no canonical form can. */
const anyText = (maxLength = 20) => fc.string({ unit: 'binary', maxLength });
const badRestAction: fc.Arbitrary<unknown> = fc.oneof(
  fc.string().filter((s) => !['enable', 'extend'].includes(s.toLowerCase())),
  anyText().filter((s) => !['enable', 'extend'].includes(s.toLowerCase())),
  fc.constantFrom('disable', 'ENABLE ', ' extend', 'enabled', null, 1, true, ['enable']),
);
const notTrue: fc.Arbitrary<unknown> = fc.jsonValue().filter((v) => v !== true);
const anyJson = fc.jsonValue({ maxDepth: 3 });

type Body = Generated<string>;
/** REST PUT bodies: TaurusDB's own shape, each part valid or broken, or not that shape at all. */
const restBody: fc.Arbitrary<Body> = fc
  .record({
    days: fc.oneof({ arbitrary: validDays.map(valid), weight: 4 }, badDays.map(invalid)),
    policy: fc.oneof({ arbitrary: fc.constant(valid(true)), weight: 4 }, notTrue.map(invalid)),
    action: fc.oneof(
      { arbitrary: fc.mixedCase(action).map(valid), weight: 4 },
      badRestAction.map(invalid),
    ),
    extra: fc.oneof(
      { arbitrary: fc.constant(valid(undefined)), weight: 6 },
      fc
        .tuple(
          fc.constantFrom(
            ...['', 'force', 'dry_run', 'lock_policy', 'constructor', 'hasOwnProperty'],
            ...['isPrototypeOf', 'toString', '__lookupGetter__'],
          ),
          anyJson,
        )
        .map(invalid),
    ),
    drop: fc.oneof(
      { arbitrary: fc.constant(valid(undefined)), weight: 6 },
      fc.constantFrom('action', 'info', 'days', 'policy').map(invalid),
    ),
  })
  .map((p) => {
    const info: Record<string, unknown> = {
      lock_retention_days: p.days.value,
      lock_policy: p.policy.value,
    };
    const body: Record<string, unknown> = { backup_vaultlock_info: info, action: p.action.value };
    if (p.extra.value) body[p.extra.value[0]] = p.extra.value[1];
    if (p.drop.value === 'action') delete body.action;
    if (p.drop.value === 'info') delete body.backup_vaultlock_info;
    if (p.drop.value === 'days') delete info.lock_retention_days;
    if (p.drop.value === 'policy') delete info.lock_policy;
    const parts = [p.days, p.policy, p.action, p.extra, p.drop];
    return { valid: parts.every((part) => part.valid), value: JSON.stringify(body) };
  });
const hostileBody: fc.Arbitrary<Body> = fc.oneof(
  anyJson.map((v) => invalid(JSON.stringify(v))),
  fc.string({ maxLength: 300 }).map(invalid),
  fc.constantFrom('{"__proto__":{"a":1}}', '{"constructor":{"prototype":{}}}', '').map(invalid),
);
const putBody = fc.oneof({ arbitrary: restBody, weight: 4 }, hostileBody);

/** The PUT's query string: the dry run every valid case needs, or something else. */
const putQuery: fc.Arbitrary<Generated<string>> = fc.oneof(
  { arbitrary: fc.constant(valid('?dry_run=true')), weight: 4 },
  fc
    .oneof(
      fc.string().map((v) => `?dry_run=${encodeURIComponent(v)}`),
      fc
        .tuple(fc.string({ minLength: 1 }), fc.string())
        .filter(([name]) => name !== 'dry_run')
        .map(([n, v]) => `?dry_run=true&${encodeURIComponent(n)}=${encodeURIComponent(v)}`),
      fc.constantFrom('?dry_run=TRUE', '?dry_run=1', '?dry_run', '?dry_run=true&dry_run=true'),
    )
    .map(invalid),
);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;
/** What an HTTP client can put in a header value at all (no CR, LF or NUL; see injection suite). */
const headerValue = fc
  .string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)) })
  .map((s) => s.trim())
  .filter((s) => !s.includes('\u007f'));

describe('fuzzing both channels over HTTP', () => {
  let h: Harness;
  let token: string;
  const executed: Record<string, { runs: number; ms: number }> = {};

  beforeAll(async () => {
    h = await startHarness();
    token = await h.simulator.mintToken({ sub: 'fuzz', groups: ['dba'] });
  });
  afterAll(async () => {
    await h.close();
    const total = Object.values(executed).reduce((sum, e) => sum + e.runs, 0);
    const ms = Object.values(executed).reduce((sum, e) => sum + e.ms, 0);
    process.stdout.write(
      `\nfuzz: ${total} cases in ${(ms / 1000).toFixed(1)} s (${Object.entries(executed)
        .map(([name, e]) => `${name} ${e.runs}`)
        .join(', ')})\n`,
    );
  });

  /** Runs one property against the shared gateway and records how many cases it executed. */
  async function fuzz<T>(
    name: keyof typeof RUNS,
    arb: fc.Arbitrary<T>,
    check: (v: T) => Promise<void>,
  ) {
    const started = Date.now();
    const details = await fc.check(fc.asyncProperty(arb, check), {
      numRuns: RUNS[name],
    });
    executed[name] = { runs: details.numRuns, ms: Date.now() - started };
    if (details.failed) {
      throw new Error(`${fc.defaultReportMessage(details)}\n${String(details.errorInstance)}`);
    }
    const live = await fetch(`${h.url}/health/live`);
    expect(live.status).toBe(200);
  }

  /** Sends one REST request and checks what every answer must satisfy, valid or not. */
  async function send(
    method: string,
    path: string,
    init: { body?: string; headers?: Record<string, string> },
  ) {
    const before = upstreamCalls(h);
    const response = await fetch(`${h.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...init.headers,
      },
      body: init.body,
    });
    const text = await response.text();
    expect(response.status).toBeLessThan(500);
    const body = JSON.parse(text) as Record<string, unknown>;
    if (response.status >= 400) {
      // The gateway's own id; the header echoes the caller's instead, when it sent a sane one.
      const callerId = init.headers?.['x-request-id'];
      expect(body).toEqual({
        error_code: expect.stringMatching(ERROR_CODE),
        error_msg: expect.any(String),
        request_id:
          callerId !== undefined && SANE_REQUEST_ID.test(callerId)
            ? expect.stringMatching(UUID)
            : response.headers.get('x-request-id'),
      });
    }
    return {
      status: response.status,
      body,
      headers: response.headers,
      calls: upstreamCalls(h) - before,
    };
  }

  /** 200 for an allowed instance within the policy's retention, else refused by policy or IAM. */
  function expectDecided(target: Target, days: number | undefined, status: number) {
    if (target.kind === 'allowed' && (days === undefined || days <= POLICY_MAX_DAYS)) {
      expect(status).toBe(200);
    } else {
      expect([403, 404]).toContain(status);
    }
  }

  it(
    `REST PUT: path, query and body (${RUNS.restPut} cases)`,
    async () => {
      await fuzz(
        'restPut',
        fc.record({ ids: idsArb, query: putQuery, body: putBody }),
        async (c) => {
          const answer = await send(
            'PUT',
            lockPath(
              encodeURIComponent(c.ids.value.projectId),
              encodeURIComponent(c.ids.value.instanceId),
            ) + c.query.value,
            {
              body: c.body.value,
            },
          );
          if (c.ids.valid && c.query.valid && c.body.valid) {
            const days = (
              JSON.parse(c.body.value) as { backup_vaultlock_info: { lock_retention_days: number } }
            ).backup_vaultlock_info.lock_retention_days;
            expectDecided(c.ids.value, days, answer.status);
            if (answer.status === 200) expect(answer.body).toEqual({ result: 'dry-run' });
          } else {
            expect([400, 404, 413, 415]).toContain(answer.status);
            expect(answer.calls).toBe(0);
          }
        },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    `REST GET: path parameters (${RUNS.restGet} cases)`,
    async () => {
      await fuzz('restGet', idsArb, async (ids) => {
        const path = lockPath(
          encodeURIComponent(ids.value.projectId),
          encodeURIComponent(ids.value.instanceId),
        );
        const answer = await send('GET', path, {});
        if (ids.valid) {
          if (ids.value.kind === 'allowed') expect(answer.status).toBe(200);
          else expect([403, 404]).toContain(answer.status);
          // AUDIT_READS=denied: a read that was not allowed leaves a row; an allowed one none.
          if (answer.status === 200) expect(answer.headers.get('x-audit-id')).toBeNull();
          else expect(answer.headers.get('x-audit-id')).toMatch(UUID);
        } else {
          expect([400, 404]).toContain(answer.status);
          expect(answer.calls).toBe(0);
        }
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    `REST headers: request id, content type, authorization (${RUNS.headers} cases)`,
    async () => {
      const arb = fc.record({
        requestId: fc.option(fc.oneof(headerValue, fc.stringMatching(SANE_REQUEST_ID)), {
          nil: undefined,
        }),
        contentType: fc.oneof(
          { arbitrary: fc.constant('application/json'), weight: 3 },
          fc.constantFrom(
            'text/plain',
            'application/xml',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
          ),
          headerValue,
        ),
        authorization: fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, headerValue),
      });
      const target = targets[0];
      await fuzz('headers', arb, async (c) => {
        const headers: Record<string, string> = { 'content-type': c.contentType };
        if (c.requestId !== undefined) headers['x-request-id'] = c.requestId;
        if (c.authorization !== undefined) headers.authorization = c.authorization;
        const answer = await send(
          'PUT',
          `${lockPath(target.projectId, target.instanceId)}?dry_run=true`,
          {
            headers,
            body: JSON.stringify({
              backup_vaultlock_info: { lock_retention_days: 30, lock_policy: true },
              action: 'enable',
            }),
          },
        );
        const echoed = answer.headers.get('x-request-id');
        if (c.requestId !== undefined && SANE_REQUEST_ID.test(c.requestId))
          expect(echoed).toBe(c.requestId);
        else expect(echoed).toMatch(UUID);
        // The body is parsed (and a wrong content type refused) before the token is checked.
        if (c.authorization !== undefined) expect([400, 401, 415]).toContain(answer.status);
        else if (answer.status !== 200) expect([400, 415]).toContain(answer.status);
        if (c.authorization !== undefined && c.contentType === 'application/json') {
          expect(answer.status).toBe(401);
        }
        if (answer.status !== 200) expect(answer.calls).toBe(0);
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  const gqlAction = fc.constantFrom('ENABLE', 'EXTEND');
  const gqlInput = fc
    .record({
      ids: idsArb,
      action: fc.oneof(
        { arbitrary: gqlAction.map(valid), weight: 4 },
        fc
          .oneof(fc.constantFrom('enable', 'Enable', 'DISABLE', 1, null), fc.string(), anyText())
          .filter((a) => a !== 'ENABLE' && a !== 'EXTEND')
          .map(invalid),
      ),
      days: fc.oneof({ arbitrary: validDays.map(valid), weight: 4 }, badDays.map(invalid)),
      lockPolicy: fc.oneof(
        { arbitrary: fc.constantFrom(valid(true), valid(undefined)), weight: 4 },
        notTrue.map(invalid),
      ),
      dryRun: fc.oneof(
        { arbitrary: fc.constant(valid(true)), weight: 6 },
        fc
          .jsonValue()
          .filter((v) => typeof v !== 'boolean')
          .map(invalid),
      ),
      extra: fc.oneof(
        { arbitrary: fc.constant(valid(undefined)), weight: 6 },
        fc
          .tuple(fc.string({ unit: alnum, minLength: 1, maxLength: 10 }), anyJson)
          .filter(
            ([k]) =>
              ![
                'projectId',
                'instanceId',
                'action',
                'lockRetentionDays',
                'lockPolicy',
                'dryRun',
              ].includes(k),
          )
          .map(invalid),
      ),
    })
    .map((p) => {
      const input: Record<string, unknown> = {
        projectId: p.ids.value.projectId,
        instanceId: p.ids.value.instanceId,
        action: p.action.value,
        lockRetentionDays: p.days.value,
        dryRun: p.dryRun.value,
      };
      if (p.lockPolicy.value !== undefined) input.lockPolicy = p.lockPolicy.value;
      if (p.extra.value) input[p.extra.value[0]] = p.extra.value[1];
      const parts = [p.ids, p.action, p.days, p.lockPolicy, p.dryRun, p.extra];
      return {
        valid: parts.every((part) => part.valid),
        target: p.ids.value,
        days: p.days.value,
        input,
      };
    });

  /** Every GraphQL error carries the contract's three extensions. */
  function expectGraphqlShape(answer: GraphqlAnswer) {
    expect(answer.status).toBeLessThan(500);
    for (const error of answer.errors ?? []) {
      expect(error.extensions).toEqual(
        expect.objectContaining({
          code: expect.any(String),
          errorCode: expect.stringMatching(ERROR_CODE),
          requestId: expect.any(String),
        }),
      );
    }
  }

  it(
    `GraphQL variables (${RUNS.graphqlVariables} cases)`,
    async () => {
      await fuzz('graphqlVariables', gqlInput, async (c) => {
        const before = upstreamCalls(h);
        const answer = await graphql(h, SET_LOCK_MUTATION, { input: c.input }, token);
        expectGraphqlShape(answer);
        if (c.valid) {
          if (c.target.kind === 'allowed' && (c.days as number) <= POLICY_MAX_DAYS) {
            expect(answer.errors).toBeUndefined();
            expect(answer.data?.setBackupVaultLock).toMatchObject({ result: 'dry-run' });
          } else {
            expect(['FORBIDDEN', 'NOT_FOUND']).toContain(answer.errors?.[0].extensions?.code);
          }
        } else {
          expect(answer.errors?.[0].extensions).toMatchObject({
            code: 'BAD_USER_INPUT',
            errorCode: 'GW.VALIDATION',
          });
          expect(upstreamCalls(h) - before).toBe(0);
        }
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  /** Whole documents: the real ones cut, spliced and shuffled, and token soup from the schema's words. */
  const vocabulary = [
    '{',
    '}',
    '(',
    ')',
    '[',
    ']',
    ':',
    '$',
    '!',
    '=',
    '...',
    '@',
    ',',
    '"x"',
    '1',
    '-1',
    '1.5',
    'true',
    'null',
    'query',
    'mutation',
    'subscription',
    'fragment',
    'on',
    'Query',
    'Mutation',
    '__schema',
    '__type',
    '__typename',
    'backupVaultLock',
    'setBackupVaultLock',
    'auditEvents',
    'projectId',
    'instanceId',
    'input',
    'enabled',
    'retentionDays',
    'nodes',
    'pageInfo',
    'ENABLE',
    '$projectId',
    '$input',
    'ID!',
    'String',
    '@include(if: true)',
    '"""block"""',
    '#comment\n',
    'a1:',
    '\u0000',
    '\uFEFF',
  ];
  const templates = [
    SET_LOCK_MUTATION,
    SHOW_LOCK_QUERY,
    '{ __typename }',
    '{ auditEvents { nodes { id } } }',
  ];
  const documentArb = fc.oneof(
    fc.array(fc.constantFrom(...vocabulary), { maxLength: 40 }).map((t) => t.join(' ')),
    fc
      .tuple(
        fc.constantFrom(...templates),
        fc.nat(),
        fc.nat({ max: 20 }),
        fc.string({ maxLength: 10 }),
      )
      .map(
        ([doc, at, cut, insert]) =>
          doc.slice(0, at % doc.length) + insert + doc.slice((at % doc.length) + cut),
      ),
    fc.string({ maxLength: 300 }),
  );

  it(
    `GraphQL documents (${RUNS.documents} cases)`,
    async () => {
      const target = targets[0];
      // Variables a mutated mutation may still use: always a dry run, so no case changes a lock.
      const variables = {
        projectId: target.projectId,
        instanceId: target.instanceId,
        input: {
          projectId: target.projectId,
          instanceId: target.instanceId,
          action: 'ENABLE',
          lockRetentionDays: 30,
          dryRun: true,
        },
      };
      await fuzz('documents', documentArb, async (query) => {
        const before = upstreamCalls(h);
        const response = await fetch(`${h.url}/graphql`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ query, variables }),
        });
        const answer = {
          status: response.status,
          headers: response.headers,
          ...(JSON.parse(await response.text()) as object),
        } as GraphqlAnswer;
        expectGraphqlShape(answer);
        expect(answer.data !== undefined || (answer.errors?.length ?? 0) > 0).toBe(true);
        if (answer.status === 400) expect(upstreamCalls(h) - before).toBe(0);
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  /**
   * Identities with every kind of character: control characters (C0, DEL, C1), line separators,
   * bidi controls and lone surrogates must be refused with 401 before anything is decided.
   */
  // \p{Cc} is U+0000-U+001F and U+007F-U+009F: the C0 controls, DEL and the C1 controls.
  const UNCLEAN_IDENTITY = /[\p{Cc}\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|\p{Cs}/u;
  const identityText = fc.oneof(
    { arbitrary: fc.string({ unit: alnum, minLength: 1, maxLength: 12 }), weight: 2 },
    fc
      .tuple(
        fc.string({ unit: alnum, maxLength: 6 }),
        fc.constantFrom(
          ...['\u0000', '\u001b', '\r', '\n', '\t', '\u007f', '\u0085', '\u009b', '\u2028'],
          ...['\u2029', '\u202e', '\u2066', '\u200f', '\u061c', '\ud800', '\udfff'],
        ),
        fc.string({ unit: alnum, maxLength: 6 }),
      )
      .map(([a, bad, b]) => a + bad + b),
    anyText(12).filter((s) => s.length > 0),
  );

  it(
    `identities in the token (${RUNS.identities} cases)`,
    async () => {
      const target = targets[0];
      await fuzz('identities', fc.record({ sub: identityText, group: identityText }), async (c) => {
        const before = upstreamCalls(h);
        const minted = await h.simulator.mintToken({ sub: c.sub, groups: ['dba', c.group] });
        const response = await fetch(
          `${h.url}${lockPath(target.projectId, target.instanceId)}?dry_run=true`,
          {
            method: 'PUT',
            headers: { authorization: `Bearer ${minted}`, 'content-type': 'application/json' },
            body: JSON.stringify(lockBody('enable', 30)),
          },
        );
        const body = (await response.json()) as Record<string, unknown>;
        if (UNCLEAN_IDENTITY.test(c.sub) || UNCLEAN_IDENTITY.test(c.group)) {
          expect(response.status).toBe(401);
          expect(body.error_code).toBe('GW.UNAUTHENTICATED');
          expect(upstreamCalls(h) - before).toBe(0);
        } else {
          expect(response.status).toBe(200);
        }
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  /**
   * A hostile upstream: tag values and error messages with any code point, lone surrogates
   * included. Every call is still decided and audited (never 503 for the audit trail), and what
   * the caller reads is well-formed text.
   */
  it(
    `upstream strings (${RUNS.upstreamStrings} cases)`,
    async () => {
      const target = INSTANCES.financeProd;
      const answerArb = fc.oneof(
        fc.record({ env: anyText(), owner: anyText() }).map(({ env, owner }) => ({
          body: {
            instance: {
              id: target.id,
              name: target.name,
              status: 'normal',
              enterprise_project_id: target.enterpriseProjectId,
              tags: [
                { key: 'env', value: env },
                { key: 'owner', value: owner },
              ],
            },
          },
        })),
        fc
          .record({ status: fc.constantFrom(400, 403, 404, 409), message: anyText(200) })
          .map(({ status, message }) => ({
            status,
            body: { error_code: 'DBS.280238', error_msg: message },
          })),
      );
      let caller = 0;
      await fuzz('upstreamStrings', answerArb, async (fault) => {
        // A caller of its own each time: instance details are cached per caller.
        const minted = await h.simulator.mintToken({
          sub: `upstream-${caller++}`,
          groups: ['dba'],
        });
        await injectFault(h, { route: 'taurusdb.instance', ...fault });
        try {
          const response = await fetch(
            `${h.url}${lockPath(target.projectId, target.id)}?dry_run=true`,
            {
              method: 'PUT',
              headers: { authorization: `Bearer ${minted}`, 'content-type': 'application/json' },
              body: JSON.stringify(lockBody('enable', 30)),
            },
          );
          const text = await response.text();
          expect([200, 400, 403, 404, 409]).toContain(response.status);
          expect(response.headers.get('x-audit-id')).toMatch(/^[0-9a-f-]{36}$/);
          expect(JSON.parse(text)).toBeDefined();
          expect(/\p{Cs}/u.test(JSON.parse(text).error_msg ?? '')).toBe(false);
        } finally {
          await clearFaults(h);
        }
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('logged one access line per request, and every warning with its request id', () => {
    const lines = readLogLines(h.logFile);
    const access = lines.filter((line) => line.msg === 'request completed');
    const total = Object.values(executed).reduce((sum, e) => sum + e.runs, 0);
    expect(access.length).toBeGreaterThanOrEqual(total);
    expect(new Set(access.map((line) => line.reqId)).size).toBe(access.length);
    for (const line of lines.filter((l) => l.level >= 40)) {
      expect(line.reqId).toEqual(expect.stringMatching(UUID));
    }
  });

  const expiredToken = () => h.simulator.mintToken({ sub: 'fuzz', expiresInSeconds: -120 });
  const b64url = fc.string({
    unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
  });

  it(
    `GraphQL without a valid token: any document, any header (${RUNS.graphqlTokens} cases)`,
    async () => {
      const expired = await expiredToken();
      const authorization = fc.oneof(
        fc.constant(undefined),
        fc.constantFrom(
          'Bearer x.y.z',
          'Bearer ',
          'Bearer',
          `Bearer ${expired}`,
          `bearer ${token}`,
        ),
        fc.tuple(b64url, b64url, b64url).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
        headerValue,
      );
      const document = fc.oneof(
        documentArb,
        fc.constantFrom(
          'mutation { __typename }',
          '{ __typename }',
          '{ __schema { types { name } } }',
          SET_LOCK_MUTATION,
          SHOW_LOCK_QUERY,
        ),
      );
      await fuzz('graphqlTokens', fc.record({ authorization, document }), async (c) => {
        const before = upstreamCalls(h);
        const response = await fetch(`${h.url}/graphql`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(c.authorization === undefined ? {} : { authorization: c.authorization }),
          },
          body: JSON.stringify({ query: c.document }),
        });
        const answer = (await response.json()) as Omit<GraphqlAnswer, 'status' | 'headers'>;
        expect({ status: response.status, data: answer.data }).toEqual({
          status: 401,
          data: undefined,
        });
        expect(answer.errors?.[0].extensions).toEqual({
          code: 'UNAUTHENTICATED',
          errorCode: 'GW.UNAUTHENTICATED',
          requestId: response.headers.get('x-request-id'),
        });
        expect(upstreamCalls(h) - before).toBe(0);
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    `groups claims as one string: only ASCII spaces separate groups (${RUNS.groupsClaims} cases)`,
    async () => {
      const word = fc.constantFrom('dba', 'db', 'a', 'xdba', 'dbax', 'auditor', 'DBA', '');
      const separator = fc.constantFrom(
        ...[' ', '  ', '\t', '\n', '\r', ',', ';', '\u00a0', '\u1680', '\u2003', '\u2009'],
        ...['\u200b', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '\u0085'],
      );
      const claim = fc
        .array(fc.tuple(word, separator), { maxLength: 5 })
        .chain((parts) => word.map((last) => parts.map(([w, sep]) => w + sep).join('') + last));
      const target = targets[0];
      await fuzz('groupsClaims', claim, async (groups) => {
        const caller = await h.simulator.mintToken({ sub: 'fuzz-groups', extraClaims: { groups } });
        const answer = await send(
          'PUT',
          `${lockPath(target.projectId, target.instanceId)}?dry_run=true`,
          {
            headers: { authorization: `Bearer ${caller}` },
            body: JSON.stringify({
              backup_vaultlock_info: { lock_retention_days: 30, lock_policy: true },
              action: 'enable',
            }),
          },
        );
        expect({ groups, status: answer.status }).toEqual({
          groups,
          // A control character anywhere in the claim refuses the token itself.
          status: UNCLEAN_IDENTITY.test(groups)
            ? 401
            : groups.split(' ').includes('dba')
              ? 200
              : 403,
        });
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  /** A date-time the test writes itself, with the instant it names. */
  const writtenTime = fc
    .record({
      ms: fc.integer({ min: -62135596800000, max: 253402214400000 }),
      offset: fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
      fraction: fc.constantFrom('', '.5', '.123', '.000001'),
    })
    .map(({ ms, offset, fraction }) => {
      const instant = ms - (ms % 1000);
      const local = new Date(instant + offset * 60_000).toISOString().slice(0, 19);
      const abs = Math.abs(offset);
      const zone =
        offset === 0
          ? 'Z'
          : `${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
      const extraMs = fraction === '' ? 0 : Math.ceil(Number(`0${fraction}`) * 1000);
      return { text: `${local}${fraction}${zone}`, instant: instant + extraMs };
    });
  const timeText = fc.oneof(
    { arbitrary: writtenTime.map((t) => t.text), weight: 3 },
    writtenTime.chain(({ text }) =>
      fc
        .tuple(fc.nat({ max: text.length - 1 }), fc.string({ maxLength: 2 }), fc.nat({ max: 2 }))
        .map(([at, insert, cut]) => text.slice(0, at) + insert + text.slice(at + cut)),
    ),
    fc.constantFrom(
      ...['+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', 'foo 2001', '1', '2001'],
      ...['2026-02-29T00:00:00Z', '2016-12-31T23:59:60Z', '2026-01-31T12:00:00+24:00'],
      ...['Tue, 01 Jan 2030 00:00:00 GMT', '2026-01-31T12:00:00.Z', '2026-01-31t12:00:00z'],
    ),
    fc.string({ maxLength: 30 }),
  );

  it(
    `audit time filters: RFC 3339 only, compared as instants, on both channels (${RUNS.timeFilters} cases)`,
    async () => {
      const auditor = await h.simulator.mintToken({ sub: 'fuzz-auditor', groups: ['auditor'] });
      const field = fc.constantFrom('since', 'until');
      await fuzz('timeFilters', fc.tuple(field, timeText), async ([name, value]) => {
        const accepted = isRfc3339(value);
        const viaRest = await send(
          'GET',
          `/v1/audit-events?limit=20&${name}=${encodeURIComponent(value)}`,
          { headers: { authorization: `Bearer ${auditor}` } },
        );
        const viaGraphql = await graphql(
          h,
          'query($f: AuditEventFilter) { auditEvents(filter: $f, first: 20) { nodes { id startedAt } } }',
          { f: { [name]: value } },
          auditor,
        );
        expectGraphqlShape(viaGraphql);
        if (!accepted) {
          expect({ value, status: viaRest.status }).toEqual({ value, status: 400 });
          expect(viaRest.body.error_msg).toContain(`${name}: must be an RFC 3339 date-time`);
          expect(viaGraphql.status).toBe(400);
          expect(viaGraphql.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
          return;
        }
        expect({ value, status: viaRest.status }).toEqual({ value, status: 200 });
        expect(viaGraphql.errors).toBeUndefined();
        const bound = Date.parse(value.toUpperCase().replace(/(\.\d{3})\d+/, '$1'));
        const times = (viaRest.body.events as { started_at: string }[]).map((e) =>
          Date.parse(e.started_at),
        );
        for (const time of times) {
          if (name === 'since') expect(time).toBeGreaterThanOrEqual(bound);
          else expect(time).toBeLessThan(bound + 1);
        }
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    `nesting: REST bodies, GraphQL variables and documents, up to 6,000 levels (${RUNS.nesting} cases)`,
    async () => {
      const arb = fc.record({
        channel: fc.constantFrom('rest', 'variables', 'document'),
        kind: fc.constantFrom('array', 'object'),
        depth: fc.oneof(
          fc.integer({ min: 0, max: MAX_NESTING + 3 }),
          fc.integer({ min: 0, max: 6000 }),
        ),
      });
      const target = targets[0];
      await fuzz('nesting', arb, async ({ channel, kind, depth }) => {
        const before = upstreamCalls(h);
        if (channel === 'document') {
          const levels = Math.min(depth, kind === 'array' ? 6000 : 3000);
          const value =
            kind === 'array'
              ? `${'['.repeat(levels)}"x"${']'.repeat(levels)}`
              : `${'{a:'.repeat(levels)}1${'}'.repeat(levels)}`;
          const query = `{ backupVaultLock(projectId: ${value}, instanceId: "${target.instanceId}") { enabled } }`;
          const answer = await graphql(h, query, {}, token);
          expectGraphqlShape(answer);
          expect(answer.errors?.length).toBeGreaterThan(0);
          // The outer brace and the argument list's parenthesis nest too.
          if (levels + 2 > MAX_NESTING) {
            expect(answer.status).toBe(400);
            expect(answer.errors?.[0].message).toContain('query nesting limit');
          }
        } else {
          const levels = Math.min(depth, kind === 'array' ? 6000 : 2500);
          const value =
            kind === 'array'
              ? `${'['.repeat(levels)}1${']'.repeat(levels)}`
              : `${'{"":'.repeat(levels)}1${'}'.repeat(levels)}`;
          if (channel === 'rest') {
            const answer = await send(
              'PUT',
              `${lockPath(target.projectId, target.instanceId)}?dry_run=true`,
              {
                body: `{"backup_vaultlock_info":${value},"action":"enable"}`,
              },
            );
            expect(answer.status).toBe(400);
            const tooDeep = levels + 1 > MAX_NESTING;
            expect(String(answer.body.error_msg).includes('levels deep')).toBe(tooDeep);
          } else {
            const response = await fetch(`${h.url}/graphql`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: `{"query":${JSON.stringify(SHOW_LOCK_QUERY)},"variables":{"projectId":${value},"instanceId":"${target.instanceId}"}}`,
            });
            const answer = {
              status: response.status,
              headers: response.headers,
              ...(JSON.parse(await response.text()) as object),
            } as GraphqlAnswer;
            expectGraphqlShape(answer);
            expect(answer.errors?.length).toBeGreaterThan(0);
            const tooDeep = levels + 2 > MAX_NESTING;
            expect(answer.errors?.[0].message.includes('levels deep')).toBe(tooDeep);
            if (tooDeep) expect(answer.status).toBe(400);
          }
        }
        expect(upstreamCalls(h) - before).toBe(0);
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    `GraphQL request envelopes: any JSON body, any field types (${RUNS.graphqlEnvelopes} cases)`,
    async () => {
      const anyField = fc.jsonValue({ maxDepth: 2 });
      const envelope = fc.oneof(
        fc.jsonValue({ maxDepth: 3 }),
        fc.record(
          {
            query: fc.oneof(fc.constantFrom('{ __typename }', SHOW_LOCK_QUERY, ''), anyField),
            variables: anyField,
            operationName: fc.oneof(fc.constantFrom('Show', null), anyField),
            extensions: fc.oneof(
              anyField,
              fc.record({
                persistedQuery: fc.record({
                  version: fc.constantFrom(1, 2),
                  sha256Hash: fc.string(),
                }),
              }),
            ),
          },
          { requiredKeys: [] },
        ),
      );
      await fuzz('graphqlEnvelopes', envelope, async (body) => {
        const before = upstreamCalls(h);
        const response = await fetch(`${h.url}/graphql`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const answer = {
          status: response.status,
          headers: response.headers,
          ...(JSON.parse(await response.text()) as object),
        } as GraphqlAnswer;
        expectGraphqlShape(answer);
        for (const error of answer.errors ?? []) {
          expect(error.extensions?.requestId).toBe(response.headers.get('x-request-id'));
        }
        if (answer.data === undefined) {
          expect(answer.status).toBe(400);
          expect(upstreamCalls(h) - before).toBe(0);
        } else {
          expect(answer.status).toBe(200);
        }
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  /*
   * A hostile upstream: error answers with any code (forged gateway codes among them) and any
   * message (control characters, oversized), and instance details for another instance, another
   * project or with repeated tag keys. Each case is a caller of its own, so nothing is cached.
   */
  const UPSTREAM_CODE = /^(DBS\.\d{6}|APIGW\.\d{4})$/;
  const GATEWAY_CODES_FOR_UPSTREAM = [
    'GW.UPSTREAM_ERROR',
    'GW.UPSTREAM_UNAVAILABLE',
    'GW.UPSTREAM_TIMEOUT',
    'GW.RATE_LIMITED',
    'GW.IAM_REFUSED',
    'GW.IAM_UNAVAILABLE',
    'GW.POLICY_DENIED',
  ];
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
  const errorCodeArb = fc.oneof(
    fc.constantFrom('GW.VALIDATION', 'GW.POLICY_DENIED', 'GW.FORBIDDEN', 'GW.INTERNAL'),
    fc.stringMatching(/^DBS\.\d{6}$/),
    fc.constantFrom('APIGW.0308', 'DBS.1', 'dbs.200001', 'DBS.200001 ', 'IAM.0001'),
    fc.string({ minLength: 1, maxLength: 40 }),
  );
  const errorFault = fc.record(
    {
      route: fc.constantFrom(
        'taurusdb.putLock',
        'taurusdb.getLock',
        'taurusdb.instance',
        'iam.oidc',
      ),
      status: fc.integer({ min: 400, max: 599 }).filter((status) => status !== 401),
      errorCode: errorCodeArb,
      errorMessage: fc.string({ unit: 'binary', maxLength: 200 }),
      errorMessageBytes: fc.integer({ min: 1, max: 200_000 }),
    },
    { requiredKeys: ['route', 'status', 'errorCode', 'errorMessage'] },
  );
  const tagArb = fc.record({
    key: fc.constantFrom('env', 'owner', 'team'),
    value: fc.constantFrom('prod', 'staging', 'dev', 'alice', ''),
  });
  const detailsFault = fc.record(
    {
      id: fc.constantFrom(INSTANCES.financeStaging.id, INSTANCES.financeProd.id.toUpperCase()),
      project_id: fc.constantFrom(PROJECTS.apSoutheast1.id, 'other'),
      tags: fc.array(tagArb, { maxLength: 6 }),
    },
    { requiredKeys: [] },
  );
  const upstreamCase = fc.record({
    fault: fc.oneof(
      errorFault,
      detailsFault.map((describeAs) => ({ route: 'taurusdb.instance', describeAs })),
    ),
    channel: fc.constantFrom('rest', 'graphql'),
    read: fc.boolean(),
  });

  /** What the example policy decides for finance prod's enable with these tags (the oracle). */
  function allowedWithTags(tags: readonly { key: string; value: string }[]): boolean {
    const values = (key: string) => tags.filter((tag) => tag.key === key).map((tag) => tag.value);
    const env = values('env');
    return (
      env.length > 0 &&
      env.every((v) => v === 'prod' || v === 'staging') &&
      values('owner').length > 0
    );
  }

  const PASSED_ON = [400, 403, 404, 409, 410, 412, 422, 423, 429];

  /** Runs one case with its fault queued, and never leaves the fault behind for the next. */
  async function withFault(fault: Record<string, unknown>, run: () => Promise<void>) {
    await injectFault(h, { ...fault, times: 1 });
    try {
      await run();
    } finally {
      await clearFaults(h);
    }
  }

  let upstreamCaller = 0;
  it(
    `hostile upstream answers (${RUNS.upstreamAnswers} cases)`,
    async () => {
      const { projectId, instanceId } = targets[0];
      await fuzz('upstreamAnswers', upstreamCase, (c) =>
        withFault(c.fault, async () => {
          const caller = await h.simulator.mintToken({
            sub: `upstream-${(upstreamCaller += 1)}`,
            groups: ['dba'],
          });
          let status: number | undefined;
          let code: string | undefined;
          let message: string;
          if (c.channel === 'rest') {
            const response = await fetch(`${h.url}${lockPath(projectId, instanceId)}`, {
              method: c.read ? 'GET' : 'PUT',
              headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
              // Never enabled in this suite, so an extension that gets through is refused.
              body: c.read ? undefined : JSON.stringify(lockBody('extend', 30)),
            });
            status = response.status;
            // Only refusals about the caller's request keep their status; the rest are 5xx.
            if (status >= 400) expect(PASSED_ON.concat(502, 503, 504)).toContain(status);
            const body = (await response.json()) as Record<string, string>;
            code = body.error_code;
            message = body.error_msg ?? '';
          } else {
            const answer = c.read
              ? await graphql(h, SHOW_LOCK_QUERY, { projectId, instanceId }, caller)
              : await graphql(
                  h,
                  SET_LOCK_MUTATION,
                  {
                    input: {
                      projectId,
                      instanceId,
                      action: 'EXTEND',
                      lockRetentionDays: 30,
                    },
                  },
                  caller,
                );
            expectGraphqlShape(answer);
            const error = answer.errors?.[0];
            code = error?.extensions?.errorCode as string | undefined;
            message = error?.message ?? '';
          }
          // Never the upstream's word for the gateway's own: a GW code is one the gateway chose.
          if (code !== undefined) {
            expect(UPSTREAM_CODE.test(code) || GATEWAY_CODES_FOR_UPSTREAM.includes(code)).toBe(
              true,
            );
          }
          if ('errorCode' in c.fault && code === c.fault.errorCode) {
            expect(code).toMatch(UPSTREAM_CODE);
          }
          expect(message.length).toBeLessThanOrEqual(600);
          expect(message).not.toMatch(CONTROL);
          if ('describeAs' in c.fault) {
            const { id, project_id: project, tags } = c.fault.describeAs;
            if (id !== undefined || project !== undefined) {
              expect(code).toBe('GW.UPSTREAM_ERROR');
              if (status !== undefined) expect(status).toBe(502);
            } else if (tags !== undefined && !c.read) {
              // Only the tags changed: the decision is the oracle's, whatever their order.
              // An allowed extension may still be refused by TaurusDB (no lock to extend).
              if (allowedWithTags(tags)) expect(code).not.toBe('GW.POLICY_DENIED');
              else expect(code).toBe('GW.POLICY_DENIED');
            }
          }
        }),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  /*
   * Denials for callers with any groups, many of them included, on both channels: the answer
   * is short and says nothing of the instance or of rules outside the caller's groups, and a
   * refused read or write always leaves a row.
   */
  const denialCase = fc.record({
    groups: fc.oneof(
      fc.uniqueArray(fc.constantFrom('dba', 'auditor', 'ops', 'dev'), { maxLength: 4 }),
      fc.array(fc.string({ unit: alnum, minLength: 1, maxLength: 8 }), { maxLength: 400 }),
    ),
    target: fc.constantFrom(...targets),
    days: fc.integer({ min: 1, max: 5000 }),
    channel: fc.constantFrom('rest', 'graphql'),
    read: fc.boolean(),
  });
  const ALLOWED_TAGS = new Set(['prod', 'staging']);

  it(
    `denials (${RUNS.denials} cases)`,
    async () => {
      await fuzz('denials', denialCase, async (c) => {
        const caller = await h.simulator.mintToken({ sub: 'denied-fuzz', groups: c.groups });
        const { projectId, instanceId } = c.target;
        let code: string | undefined;
        let message = '';
        let auditId: unknown;
        let size: number;
        if (c.channel === 'rest') {
          const answer = await send(
            c.read ? 'GET' : 'PUT',
            `${lockPath(projectId, instanceId)}${c.read ? '' : '?dry_run=true'}`,
            {
              headers: { authorization: `Bearer ${caller}` },
              body: c.read ? undefined : JSON.stringify(lockBody('enable', c.days)),
            },
          );
          code = answer.body.error_code as string | undefined;
          message = String(answer.body.error_msg ?? '');
          auditId = answer.headers.get('x-audit-id');
          size = JSON.stringify(answer.body).length;
        } else {
          const answer = c.read
            ? await graphql(h, SHOW_LOCK_QUERY, { projectId, instanceId }, caller)
            : await graphql(
                h,
                SET_LOCK_MUTATION,
                {
                  input: {
                    projectId,
                    instanceId,
                    action: 'ENABLE',
                    lockRetentionDays: c.days,
                    dryRun: true,
                  },
                },
                caller,
              );
          expectGraphqlShape(answer);
          code = answer.errors?.[0].extensions?.errorCode as string | undefined;
          message = answer.errors?.[0].message ?? '';
          auditId = answer.errors?.[0].extensions?.auditId;
          size = JSON.stringify(answer.errors ?? []).length;
        }
        if (code !== 'GW.POLICY_DENIED') return;
        expect(auditId).toEqual(expect.stringMatching(UUID));
        expect(size).toBeLessThan(700);
        const instance = Object.values(INSTANCES).find((i) => i.id === instanceId);
        expect(message).not.toMatch(/enterprise project|tag /);
        for (const ep of Object.values(ENTERPRISE_PROJECTS).filter((ep) => ep !== '0')) {
          expect(message).not.toContain(ep);
        }
        for (const tag of instance?.tags ?? []) {
          if (!ALLOWED_TAGS.has(tag.value)) expect(message).not.toContain(tag.value);
        }
        if (!c.groups.includes('dba')) expect(message).not.toContain('finance-dba');
        if (!c.groups.includes('auditor')) expect(message).not.toContain('auditors-read');
        // Groups are never named (shorter ones could be words of the message itself).
        for (const group of c.groups.filter((g) => g.length >= 5)) {
          expect(message).not.toMatch(new RegExp(`(?<![\\w-])${group}(?![\\w-])`));
        }
      });
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(`executes at least ${TARGET_TOTAL} cases in all`, () => {
    const total = Object.values(executed).reduce((sum, e) => sum + e.runs, 0);
    expect(total).toBeGreaterThanOrEqual(TARGET_TOTAL);
  });
});
