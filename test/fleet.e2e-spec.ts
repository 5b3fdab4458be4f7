import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  ENTERPRISE_PROJECTS,
  FLEET_INSTANCES,
  PROJECTS,
  type FixtureInstance,
} from '../src/simulator/fixtures.js';
import {
  graphql,
  injectFault,
  lockBody,
  lockPath,
  rest,
  type HttpAnswer,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const FLEET = PROJECTS.cnNorth4Fleet.id;

const FLEET_QUERY = `
  query Fleet($projectId: ID!, $filter: FleetFilter, $first: Int, $after: String) {
    fleet(projectId: $projectId, filter: $filter, first: $first, after: $after) {
      nodes {
        instanceId name status enterpriseProjectId tags { key value }
        lock { enabled retentionDays startsAt endsAt } lockError allowedActions
      }
      pageInfo { hasNextPage endCursor }
    }
  }`;

interface GraphqlFleetNode {
  instanceId: string;
  lock: { enabled: boolean; retentionDays: number | null } | null;
  lockError: string | null;
  allowedActions: string[];
}

interface RestFleetPage {
  instances: RestFleetInstance[];
  next_cursor: string | null;
}

interface RestFleetInstance {
  instance_id: string;
  lock: { enabled: boolean; retention_days: number | null } | null;
  lock_error: string | null;
  allowed_actions: string[];
}

const tagOf = (instance: FixtureInstance, key: string) =>
  instance.tags.find((tag) => tag.key === key)?.value;

/** What the example policy lets `dba` see: finance or default, env prod or staging, an owner. */
const dbaSees = (instance: FixtureInstance) =>
  (instance.enterpriseProjectId === ENTERPRISE_PROJECTS.finance ||
    instance.enterpriseProjectId === ENTERPRISE_PROJECTS.default) &&
  ['prod', 'staging'].includes(tagOf(instance, 'env') ?? '') &&
  tagOf(instance, 'owner') !== undefined;

describe('fleet view end to end', () => {
  let h: Harness;
  let dba: string;
  let auditor: string;

  /** Every page over REST, following next_cursor. */
  const restPages = async (token: string, query: string, limit: number) => {
    const pages: RestFleetInstance[][] = [];
    let cursor: string | null = null;
    do {
      const answer: HttpAnswer<RestFleetPage> = await rest<RestFleetPage>(
        h,
        'GET',
        `/v1/projects/${FLEET}/fleet?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`,
        { token },
      );
      expect(answer.status).toBe(200);
      pages.push(answer.body.instances);
      cursor = answer.body.next_cursor;
    } while (cursor !== null);
    return pages;
  };

  /** Every page over GraphQL, following endCursor. */
  const graphqlPages = async (token: string, filter: unknown, first: number) => {
    const pages: GraphqlFleetNode[][] = [];
    let after: string | null = null;
    do {
      const answer = await graphql(
        h,
        FLEET_QUERY,
        { projectId: FLEET, filter, first, after },
        token,
      );
      expect(answer.errors).toBeUndefined();
      const connection = answer.data?.fleet as {
        nodes: GraphqlFleetNode[];
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      };
      pages.push(connection.nodes);
      after = connection.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;
    } while (after !== null);
    return pages;
  };

  beforeAll(async () => {
    // Lock reads are not kept between pages, so each test sees the locks it set.
    h = await startHarness({ FLEET_LOCK_CACHE_MS: '0' });
    dba = await h.simulator.mintToken({ sub: 'fleet-dba', groups: ['dba'] });
    auditor = await h.simulator.mintToken({ sub: 'fleet-auditor', groups: ['auditor'] });
  });
  afterAll(() => h.close());
  beforeEach(() => h.simulator.reset());

  it('pages what the caller may see on both channels, with its allowed actions', async () => {
    const expected = FLEET_INSTANCES.filter(dbaSees).map((i) => i.id);
    const restAnswer = await restPages(dba, '', 60);
    expect(restAnswer.flat().map((i) => i.instance_id)).toEqual(expected);
    expect(restAnswer.slice(0, -1).every((page) => page.length === 60)).toBe(true);
    expect(restAnswer[0][0]).toMatchObject({
      lock: { enabled: false, retention_days: null },
      lock_error: null,
      allowed_actions: ['enable', 'extend'],
    });

    const graphqlAnswer = await graphqlPages(dba, null, 60);
    expect(graphqlAnswer.flat().map((n) => n.instanceId)).toEqual(expected);
    expect(graphqlAnswer[0][0].allowedActions).toEqual(['ENABLE', 'EXTEND']);

    const auditorView = await restPages(auditor, '', 100);
    expect(auditorView.flat()).toHaveLength(FLEET_INSTANCES.length);
    expect(auditorView.flat().every((i) => i.allowed_actions.length === 0)).toBe(true);
  });

  it('filters by enterprise project and tags, the tags sent to TaurusDB', async () => {
    const wanted = FLEET_INSTANCES.filter(
      (i) =>
        (i.enterpriseProjectId === ENTERPRISE_PROJECTS.marketing ||
          i.enterpriseProjectId === ENTERPRISE_PROJECTS.research) &&
        tagOf(i, 'tier') === 'gold' &&
        tagOf(i, 'env') === 'prod',
    ).map((i) => i.id);
    expect(wanted.length).toBeGreaterThan(3);
    const query =
      `&enterprise_project_id=${ENTERPRISE_PROJECTS.marketing}` +
      `&enterprise_project_id=${ENTERPRISE_PROJECTS.research}&tag=tier%3Dgold&tag=env%3Dprod`;
    expect((await restPages(auditor, query, 3)).flat().map((i) => i.instance_id)).toEqual(wanted);

    const filter = {
      enterpriseProjectIds: [ENTERPRISE_PROJECTS.marketing, ENTERPRISE_PROJECTS.research],
      tags: [
        { key: 'tier', value: 'gold' },
        { key: 'env', value: 'prod' },
      ],
    };
    h.simulator.reset();
    const pages = await graphqlPages(auditor, filter, 3);
    expect(pages.flat().map((n) => n.instanceId)).toEqual(wanted);
    // One upstream list page per fleet page: the tags filter shrank the list upstream.
    expect(h.simulator.calls()['taurusdb.listInstances']).toBe(pages.length);
  });

  it('pages the locked filter by lock state on both channels', async () => {
    const visible = FLEET_INSTANCES.filter(dbaSees);
    const locked = visible.filter((_, index) => index % 4 === 1).slice(0, 12);
    for (const instance of locked) {
      const answer = await rest(h, 'PUT', lockPath(FLEET, instance.id), {
        token: dba,
        body: lockBody('enable', 45),
      });
      expect(answer.status).toBe(200);
    }
    const lockedIds = locked.map((i) => i.id);

    const restLocked = (await restPages(dba, '&locked=true', 5)).flat();
    expect(restLocked.map((i) => i.instance_id)).toEqual(lockedIds);
    expect(restLocked.every((i) => i.lock?.enabled && i.lock.retention_days === 45)).toBe(true);

    const graphqlLocked = (await graphqlPages(dba, { locked: true }, 5)).flat();
    expect(graphqlLocked.map((n) => n.instanceId)).toEqual(lockedIds);

    const unlocked = (await graphqlPages(dba, { locked: false }, 50)).flat();
    expect(unlocked.map((n) => n.instanceId)).toEqual(
      visible.filter((i) => !lockedIds.includes(i.id)).map((i) => i.id),
    );
  });

  it('answers a partial page when lock reads are throttled or fail', async () => {
    await injectFault(h, {
      route: 'taurusdb.getLock',
      status: 429,
      retryAfterSeconds: 60,
      times: 2,
    });
    const restPage = await rest<{ instances: RestFleetInstance[] }>(
      h,
      'GET',
      `/v1/projects/${FLEET}/fleet?limit=10`,
      { token: dba },
    );
    expect(restPage.status).toBe(200);
    const unread = restPage.body.instances.filter((i) => i.lock === null);
    expect(unread).toHaveLength(2);
    expect(unread.every((i) => i.lock_error === 'APIGW.0308')).toBe(true);
    expect(restPage.body.instances).toHaveLength(10);

    await injectFault(h, { route: 'taurusdb.getLock', status: 500, times: 1 });
    const answer = await graphql(h, FLEET_QUERY, { projectId: FLEET, first: 10 }, dba);
    expect(answer.errors).toBeUndefined();
    const nodes = (answer.data?.fleet as { nodes: GraphqlFleetNode[] }).nodes;
    expect(nodes.filter((n) => n.lock === null).map((n) => n.lockError)).toEqual([
      'GW.UPSTREAM_ERROR',
    ]);
  });

  it('rides out a failed list call by retrying it, and fails the page when it keeps failing', async () => {
    await injectFault(h, { route: 'taurusdb.listInstances', status: 503, times: 1 });
    const retried = await rest(h, 'GET', `/v1/projects/${FLEET}/fleet?limit=5`, { token: dba });
    expect(retried.status).toBe(200);

    await injectFault(h, { route: 'taurusdb.listInstances', status: 500 });
    const failed = await rest(h, 'GET', `/v1/projects/${FLEET}/fleet?limit=5`, { token: dba });
    expect(failed.status).toBe(502);
    expect(failed.body.error_code).toBe('GW.UPSTREAM_ERROR');
    const answer = await graphql(h, FLEET_QUERY, { projectId: FLEET, first: 5 }, dba);
    expect(answer.errors?.[0].extensions).toMatchObject({
      code: 'UPSTREAM_ERROR',
      errorCode: 'GW.UPSTREAM_ERROR',
    });
  });

  it('refuses a caller with no rule, bad filters and foreign cursors, naming the field', async () => {
    const stranger = await h.simulator.mintToken({ sub: 'fleet-stranger', groups: ['ops'] });
    const denied = await rest(h, 'GET', `/v1/projects/${FLEET}/fleet`, { token: stranger });
    expect(denied.status).toBe(403);
    expect(denied.body.error_code).toBe('GW.POLICY_DENIED');
    expect(h.simulator.calls()['taurusdb.listInstances']).toBe(0);

    for (const [query, field] of [
      ['?limit=101', 'limit'],
      ['?tag=env', 'tag'],
      ['?tag=env%3Dprod%2Cowner%3Dx', 'tag'],
      ['?enterprise_project_id=finance', 'enterprise_project_id'],
      ['?locked=yes', 'locked'],
      ['?cursor=abc', 'cursor'],
    ]) {
      const answer = await rest(h, 'GET', `/v1/projects/${FLEET}/fleet${query}`, { token: dba });
      expect(answer.status).toBe(400);
      expect(answer.body.error_code).toBe('GW.VALIDATION');
      expect(String(answer.body.error_msg)).toMatch(new RegExp(`^${field}`));
    }

    const first = await rest<{ next_cursor: string }>(
      h,
      'GET',
      `/v1/projects/${FLEET}/fleet?limit=2`,
      { token: dba },
    );
    const otherFilter = await graphql(
      h,
      FLEET_QUERY,
      { projectId: FLEET, filter: { locked: true }, after: first.body.next_cursor },
      dba,
    );
    expect(otherFilter.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(otherFilter.errors?.[0].message).toMatch(/^after: /);
    expect(h.simulator.calls()['taurusdb.listInstances']).toBe(1);
  });
});
