import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { CallContext } from '../common/call-context.js';
import { Clock } from '../common/clock.js';
import { CommonModule } from '../common/common.module.js';
import { GwCode } from '../common/gateway-error.js';
import { Principal } from '../domain/principal.js';
import { PolicyEvaluator } from '../policy/policy-evaluator.js';
import { PolicyModule } from '../policy/policy.module.js';
import {
  ENTERPRISE_PROJECTS,
  FLEET_INSTANCES,
  PROJECTS,
  type FixtureInstance,
} from '../simulator/fixtures.js';
import { FixtureTaurusDb } from '../taurusdb/testing/fixture-taurusdb.js';
import { UpstreamError } from '../taurusdb/upstream-error.js';
import type { FleetFilter } from './fleet-filter.js';
import { FLEET_MAX_SCANNED, FleetService, type FleetPage } from './fleet.service.js';
import { LockStateReader } from './lock-state-reader.js';

const FLEET = PROJECTS.cnNorth4Fleet.id;

const callerIn = (groups: string[]): CallContext => ({
  requestId: 'req-1',
  correlationId: null,
  channel: 'rest',
  principal: new Principal('https://idp.example.test', groups.join('+'), groups, 'raw-jwt'),
  callerAddress: '127.0.0.1',
});

const tagOf = (instance: FixtureInstance, key: string) =>
  instance.tags.find((tag) => tag.key === key)?.value;

/** What the example policy lets `dba` see: finance or default, env prod or staging, an owner. */
const dbaSees = (instance: FixtureInstance) =>
  [ENTERPRISE_PROJECTS.finance, ENTERPRISE_PROJECTS.default].includes(
    instance.enterpriseProjectId as '0',
  ) &&
  ['prod', 'staging'].includes(tagOf(instance, 'env') ?? '') &&
  tagOf(instance, 'owner') !== undefined;

describe('FleetService over the fixture fleet and the example policy', () => {
  let app: INestApplicationContext;
  let taurusDb: FixtureTaurusDb;
  let fleet: FleetService;

  const serviceWith = (concurrency = 8, lockCacheMs = 0) =>
    new FleetService(
      taurusDb,
      app.get(PolicyEvaluator),
      new LockStateReader(taurusDb, { concurrency, lockCacheMs }, new Clock()),
    );

  /** Every page of the listing, following the cursors. */
  const allPages = async (ctx: CallContext, filter: FleetFilter, limit: number) => {
    const pages: FleetPage[] = [];
    let cursor: string | undefined;
    do {
      const page = await fleet.page(ctx, {
        projectId: FLEET,
        filter,
        limit,
        cursor,
        cursorField: 'cursor',
      });
      pages.push(page);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return pages;
  };
  const idsOf = (pages: FleetPage[]) =>
    pages.flatMap((page) => page.instances.map((i) => i.instanceId));

  // The example policy's four-eyes rule needs a service identity: password mode has one.
  const env: Record<string, string> = {
    POLICY_FILE: 'config/policy.example.yaml',
    IAM_ENDPOINT: 'http://127.0.0.1:9',
    IAM_TOKEN_MODE: 'password',
    IAM_DOMAIN_NAME: 'sim-domain',
    IAM_USER_NAME: 'sim-service',
    IAM_PASSWORD: 'sim-password',
  };
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));

  beforeAll(async () => {
    Object.assign(process.env, env);
    const moduleRef = await Test.createTestingModule({
      imports: [CommonModule, PolicyModule],
    }).compile();
    app = await moduleRef.init();
  });
  afterAll(async () => {
    await app.close();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  beforeEach(() => {
    taurusDb = new FixtureTaurusDb();
    fleet = serviceWith();
  });

  it('pages through exactly the instances the caller may see, in list order', async () => {
    const pages = await allPages(callerIn(['dba']), {}, 40);
    const expected = FLEET_INSTANCES.filter(dbaSees).map((i) => i.id);
    expect(idsOf(pages)).toEqual(expected);
    expect(pages.slice(0, -1).every((page) => page.instances.length === 40)).toBe(true);
    const first = pages[0].instances[0];
    expect(first).toMatchObject({
      lock: { enabled: false },
      lockError: null,
      allowedActions: ['enable', 'extend'],
    });
  });

  it('shows an auditor everything, with no action to take', async () => {
    const pages = await allPages(callerIn(['auditor']), {}, 100);
    expect(idsOf(pages)).toEqual(FLEET_INSTANCES.map((i) => i.id));
    expect(pages.flatMap((p) => p.instances).every((i) => i.allowedActions.length === 0)).toBe(
      true,
    );
  });

  it('refuses a caller no rule lets see anything, before any upstream call', async () => {
    await expect(
      fleet.page(callerIn(['ops']), {
        projectId: FLEET,
        filter: {},
        limit: 10,
        cursorField: 'after',
      }),
    ).rejects.toMatchObject({ errorCode: GwCode.POLICY_DENIED, status: 403 });
    expect(taurusDb.calls).toEqual({ listInstances: 0, showLock: 0 });
  });

  it('filters by enterprise project and tags', async () => {
    const filter = {
      enterpriseProjectIds: [ENTERPRISE_PROJECTS.default],
      tags: [{ key: 'tier', value: 'gold' }],
    };
    const pages = await allPages(callerIn(['auditor']), filter, 7);
    const expected = FLEET_INSTANCES.filter(
      (i) => i.enterpriseProjectId === ENTERPRISE_PROJECTS.default && tagOf(i, 'tier') === 'gold',
    );
    expect(expected.length).toBeGreaterThan(7);
    expect(idsOf(pages)).toEqual(expected.map((i) => i.id));
  });

  it('pages the locked filter by lock state, reading locks only for what each page needs', async () => {
    const locked = FLEET_INSTANCES.filter(dbaSees).filter((_, index) => index % 3 === 0);
    for (const instance of locked)
      taurusDb.locks.set(instance.id, { action: 'enable', retentionDays: 30 });

    const lockedPages = await allPages(callerIn(['dba']), { locked: true }, 10);
    expect(idsOf(lockedPages)).toEqual(locked.map((i) => i.id));
    expect(lockedPages.flatMap((p) => p.instances).every((i) => i.lock?.retentionDays === 30)).toBe(
      true,
    );

    const unlocked = await allPages(callerIn(['dba']), { locked: false }, 10);
    const lockedIds = new Set(locked.map((i) => i.id));
    expect(idsOf(unlocked)).toEqual(
      FLEET_INSTANCES.filter(dbaSees)
        .filter((i) => !lockedIds.has(i.id))
        .map((i) => i.id),
    );

    taurusDb.calls.showLock = 0;
    await fleet.page(callerIn(['dba']), {
      projectId: FLEET,
      filter: {},
      limit: 5,
      cursorField: 'cursor',
    });
    expect(taurusDb.calls.showLock).toBe(5);
  });

  it('keeps an instance whose lock cannot be read, with the error code, under any filter', async () => {
    const [throttled, failing] = FLEET_INSTANCES.filter(dbaSees);
    taurusDb.lockReadFailures.set(
      throttled.id,
      new UpstreamError('APIGW.0308', 429, 'throttled', {
        outcomeUncertain: false,
        upstreamStatus: 429,
      }),
    );
    taurusDb.lockReadFailures.set(
      failing.id,
      new UpstreamError(GwCode.UPSTREAM_ERROR, 502, 'TaurusDB answered 500', {
        outcomeUncertain: false,
      }),
    );
    for (const locked of [undefined, true, false]) {
      const page = await fleet.page(callerIn(['dba']), {
        projectId: FLEET,
        filter: { locked },
        limit: 3,
        cursorField: 'cursor',
      });
      expect(page.instances.slice(0, 2)).toMatchObject([
        { instanceId: throttled.id, lock: null, lockError: 'APIGW.0308' },
        { instanceId: failing.id, lock: null, lockError: 'GW.UPSTREAM_ERROR' },
      ]);
    }
  });

  it('reuses a lock read within the cache time, and never a failed one', async () => {
    fleet = serviceWith(8, 60_000);
    const [first] = FLEET_INSTANCES.filter(dbaSees);
    taurusDb.lockReadFailures.set(
      first.id,
      new UpstreamError(GwCode.UPSTREAM_TIMEOUT, 504, 'late', { outcomeUncertain: false }),
    );
    const request = { projectId: FLEET, filter: {}, limit: 4, cursorField: 'cursor' };
    await fleet.page(callerIn(['dba']), request);
    taurusDb.lockReadFailures.clear();
    const again = await fleet.page(callerIn(['dba']), request);
    expect(taurusDb.calls.showLock).toBe(5);
    expect(again.instances[0]).toMatchObject({ instanceId: first.id, lockError: null });
  });

  it('stops a page after examining FLEET_MAX_SCANNED instances, with a cursor to go on from', async () => {
    const page = await fleet.page(callerIn(['dba']), {
      projectId: FLEET,
      filter: { tags: [{ key: 'env', value: 'dev' }] },
      limit: 10,
      cursorField: 'cursor',
    });
    // env=dev is never visible to dba: the whole list is examined, within the bound.
    expect(FLEET_INSTANCES.length).toBeLessThanOrEqual(FLEET_MAX_SCANNED);
    expect(page).toEqual({ instances: [], nextCursor: null });
    expect(taurusDb.calls.listInstances).toBe(2);
  });

  it('refuses a cursor of another filter, project or an altered one, naming the field', async () => {
    const ctx = callerIn(['dba']);
    const first = await fleet.page(ctx, {
      projectId: FLEET,
      filter: {},
      limit: 2,
      cursorField: 'after',
    });
    const cursor = first.nextCursor as string;
    const offsetOf = (value: string) =>
      (JSON.parse(Buffer.from(value, 'base64url').toString()) as { o: number }).o;
    expect(offsetOf(cursor)).toBeGreaterThan(0);
    const altered = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(cursor, 'base64url').toString()), o: -1 }),
    ).toString('base64url');
    for (const [filter, value] of [
      [{ locked: true }, cursor],
      [{}, altered],
      [{}, 'not a cursor'],
    ] as const) {
      await expect(
        fleet.page(ctx, {
          projectId: FLEET,
          filter,
          limit: 2,
          cursor: value,
          cursorField: 'after',
        }),
      ).rejects.toMatchObject({
        errorCode: GwCode.VALIDATION,
        message: expect.stringMatching(/^after: /) as string,
      });
    }
  });
});
