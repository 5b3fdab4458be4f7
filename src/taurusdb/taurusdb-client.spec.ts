import { createServer } from 'node:net';
import { jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { Clock } from '../common/clock.js';
import { CommonModule } from '../common/common.module.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import {
  FLEET_INSTANCES,
  FLEET_SIZE,
  INSTANCES,
  PROJECTS,
  type FixtureProject,
} from '../simulator/fixtures.js';
import {
  SERVICE_ACCOUNT,
  startSimulator,
  type FaultSpec,
  type RunningSimulator,
} from '../simulator/simulator.js';
import { TaurusDbClient, type UpstreamCredentials } from './taurusdb-client.js';
import { TaurusDbEndpoints } from './taurusdb-endpoints.js';
import type { TaurusDbConfig } from './taurusdb.config.js';
import { TaurusDbModule } from './taurusdb.module.js';
import type { SetVaultLockBody } from './taurusdb.types.js';
import { UpstreamError, UpstreamUnauthorizedError } from './upstream-error.js';
import { Tracing } from '../tracing/tracing.js';

const { financeProd, financeStaging, apacProd } = INSTANCES;
const project = PROJECTS.cnNorth4.id;

const lockBody = (action: 'enable' | 'extend', days: number): SetVaultLockBody => ({
  backup_vaultlock_info: { lock_retention_days: days, lock_policy: true },
  action,
});

describe('TaurusDbClient against the simulator', () => {
  let sim: RunningSimulator;
  let metrics: GatewayMetrics;
  const clients: TaurusDbClient[] = [];
  /** IAM tokens by fixture project, fetched fresh after each simulator reset. */
  let cnNorth: UpstreamCredentials;
  let apac: UpstreamCredentials;

  const iamToken = async (fixture: FixtureProject): Promise<UpstreamCredentials> => {
    const response = await fetch(`${sim.url}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: {
                name: SERVICE_ACCOUNT.userName,
                password: SERVICE_ACCOUNT.password,
                domain: { name: SERVICE_ACCOUNT.domainName },
              },
            },
          },
          scope: { project: { id: fixture.id } },
        },
      }),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { token: { project: { name: string } } };
    const token = response.headers.get('x-subject-token');
    expect(token).toBeTruthy();
    // As the IAM module does it: the region is what the project name starts with.
    return { token: token as string, region: body.token.project.name.split('_')[0] };
  };

  const admin = async (path: string, body?: unknown): Promise<void> => {
    const response = await fetch(`${sim.url}/__admin/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    expect(response.status).toBeLessThan(300);
  };
  const fault = (spec: FaultSpec) => admin('faults', spec);

  const clientWith = (
    overrides: Partial<TaurusDbConfig> & { timeoutMs?: number } = {},
  ): TaurusDbClient => {
    const { timeoutMs = 5000, ...config } = overrides;
    const taurus: TaurusDbConfig = {
      endpoint: `${sim.url}/{region}`,
      endpoints: {},
      probeRegion: 'cn-north-4',
      breakerThreshold: 5,
      breakerHalfOpenMs: 10000,
      instanceCacheMs: 0,
      ...config,
    };
    const client = new TaurusDbClient(
      new TaurusDbEndpoints(taurus),
      taurus,
      { timeoutMs },
      metrics,
      new Clock(),
      new Tracing(),
    );
    clients.push(client);
    return client;
  };

  /** Runs the call and answers the error it failed with. */
  const failure = async (call: Promise<unknown>): Promise<UpstreamError> => {
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  };

  const requestsCounted = async (operation: string, status: string): Promise<number> => {
    const { values } = await metrics.upstreamRequests.get();
    return values
      .filter((v) => v.labels.operation === operation && v.labels.status === status)
      .reduce((sum, v) => sum + v.value, 0);
  };

  const closedPortUrl = async (): Promise<string> => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `http://127.0.0.1:${port}`;
  };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
  });

  beforeEach(async () => {
    sim.reset();
    metrics = new GatewayMetrics();
    [cnNorth, apac] = await Promise.all([
      iamToken(PROJECTS.cnNorth4),
      iamToken(PROJECTS.apSoutheast1),
    ]);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.onApplicationShutdown()));
    await sim.close();
  });

  it('reads instance details and counts the call', async () => {
    const client = clientWith();
    await expect(client.getInstance(cnNorth, project, financeProd.id)).resolves.toEqual({
      id: financeProd.id,
      projectId: project,
      name: financeProd.name,
      status: financeProd.status,
      enterpriseProjectId: financeProd.enterpriseProjectId,
      tags: financeProd.tags,
    });
    expect(sim.calls()['taurusdb.instance']).toBe(1);
    expect(await requestsCounted('getInstance', '200')).toBe(1);
  });

  describe('the instance list', () => {
    const fleet = PROJECTS.cnNorth4Fleet.id;
    let fleetCredentials: UpstreamCredentials;
    beforeEach(async () => {
      fleetCredentials = await iamToken(PROJECTS.cnNorth4Fleet);
    });

    it('reads a page, with the tags filter sent upstream, and counts the call', async () => {
      const client = clientWith();
      const page = await client.listInstances(fleetCredentials, fleet, {
        offset: 10,
        limit: 5,
        tags: [],
      });
      expect(page.totalCount).toBe(FLEET_SIZE);
      expect(page.instances.map((i) => i.id)).toEqual(
        FLEET_INSTANCES.slice(10, 15).map((i) => i.id),
      );
      expect(page.instances[0]).toMatchObject({
        name: FLEET_INSTANCES[10].name,
        enterpriseProjectId: FLEET_INSTANCES[10].enterpriseProjectId,
        tags: FLEET_INSTANCES[10].tags,
      });
      const gold = await client.listInstances(fleetCredentials, fleet, {
        offset: 0,
        limit: 100,
        tags: [{ key: 'tier', value: 'gold' }],
      });
      expect(gold.totalCount).toBe(
        FLEET_INSTANCES.filter((i) => i.tags.some((t) => t.key === 'tier')).length,
      );
      expect(gold.instances.every((i) => i.tags.some((t) => t.key === 'tier'))).toBe(true);
      expect(await requestsCounted('listInstances', '200')).toBe(2);
    });

    it('refuses a tag that would change the meaning of the list, before any call', async () => {
      const client = clientWith();
      await expect(
        client.listInstances(fleetCredentials, fleet, {
          offset: 0,
          limit: 1,
          tags: [{ key: 'env', value: 'prod,owner=x' }],
        }),
      ).rejects.toMatchObject({ status: 400, errorCode: 'GW.VALIDATION' });
      expect(sim.calls()['taurusdb.listInstances']).toBe(0);
    });

    it('answers 502 for a list naming another project or an id no instance could have', async () => {
      const client = clientWith();
      const listed = (instance: Record<string, unknown>) => ({
        instances: [
          {
            id: FLEET_INSTANCES[0].id,
            name: 'a',
            status: 'normal',
            enterprise_project_id: '0',
            ...instance,
          },
        ],
        total_count: 1,
      });
      for (const body of [
        listed({ project_id: project }),
        listed({ id: '../../v3/x' }),
        { instances: [], total_count: -1 },
      ]) {
        await fault({ route: 'taurusdb.listInstances', body, times: 1 });
        const error = await failure(
          client.listInstances(fleetCredentials, fleet, { offset: 0, limit: 1, tags: [] }),
        );
        expect(error).toMatchObject({ status: 502, errorCode: 'GW.UPSTREAM_ERROR' });
      }
    });

    it('retries a throttled list like every read', async () => {
      const client = clientWith();
      await fault({ route: 'taurusdb.listInstances', status: 503, times: 1 });
      const page = await client.listInstances(fleetCredentials, fleet, {
        offset: 0,
        limit: 1,
        tags: [],
      });
      expect(page.instances).toHaveLength(1);
      expect(await requestsCounted('listInstances', '503')).toBe(1);
    });
  });

  it('answers 502 when the details describe another instance or another project', async () => {
    const client = clientWith();
    for (const describeAs of [
      { id: financeStaging.id },
      { project_id: PROJECTS.apSoutheast1.id },
      { id: financeProd.id.toUpperCase() },
    ]) {
      await fault({ route: 'taurusdb.instance', describeAs, times: 1 });
      const error = await failure(client.getInstance(cnNorth, project, financeProd.id));
      expect(error).toMatchObject({
        status: 502,
        errorCode: 'GW.UPSTREAM_ERROR',
        message: 'TaurusDB answered with the details of another instance',
        outcomeUncertain: false,
      });
    }
  });

  it('reads an instance in either fixture region through the region template', async () => {
    const client = clientWith();
    await expect(
      client.getInstance(apac, PROJECTS.apSoutheast1.id, apacProd.id),
    ).resolves.toMatchObject({
      id: apacProd.id,
      enterpriseProjectId: apacProd.enterpriseProjectId,
    });
    await expect(client.getInstance(cnNorth, project, financeStaging.id)).resolves.toMatchObject({
      id: financeStaging.id,
    });
  });

  it('passes on the simulator 404 when a region is mapped to the wrong endpoint', async () => {
    const client = clientWith({ endpoints: { 'ap-southeast-1': `${sim.url}/cn-north-4` } });
    const error = await failure(client.getInstance(apac, PROJECTS.apSoutheast1.id, apacProd.id));
    expect(error).toMatchObject({ status: 404, upstreamStatus: 404 });
    expect(error.errorCode).toMatch(/^DBS\./);
  });

  it('reads, enables and extends the lock, and passes a refused shortening through', async () => {
    const client = clientWith();
    await expect(client.getVaultLock(cnNorth, project, financeProd.id)).resolves.toMatchObject({
      backup_vaultlock_info: { lock_policy: false },
    });
    await expect(
      client.setVaultLock(cnNorth, project, financeProd.id, lockBody('enable', 30)),
    ).resolves.toEqual({ result: 'success' });
    await expect(
      client.setVaultLock(cnNorth, project, financeProd.id, lockBody('extend', 60)),
    ).resolves.toEqual({ result: 'success' });
    const lock = await client.getVaultLock(cnNorth, project, financeProd.id, 'req-123');
    expect(lock.backup_vaultlock_info).toMatchObject({
      lock_policy: true,
      lock_retention_days: 60,
    });
    expect(typeof lock.backup_vaultlock_info.lock_end_time).toBe('number');

    const error = await failure(
      client.setVaultLock(cnNorth, project, financeProd.id, lockBody('extend', 10)),
    );
    expect(error).toMatchObject({ status: 400, upstreamStatus: 400, outcomeUncertain: false });
    expect(error.errorCode).toMatch(/^DBS\./);
  });

  it.each([
    ['a short project id', 'abc', financeProd.id],
    ['a path in the project id', '../../v3/0a1b2c3d4e5f60718293a4b5c', financeProd.id],
    ['an instance id without in07', project, 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6in08'],
    ['an encoded slash in the instance id', project, 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4%2Fin07'],
  ])('refuses %s without calling TaurusDB', async (_case, projectId, instanceId) => {
    const client = clientWith();
    for (const call of [
      client.getInstance(cnNorth, projectId, instanceId),
      client.getVaultLock(cnNorth, projectId, instanceId),
      client.setVaultLock(cnNorth, projectId, instanceId, lockBody('enable', 1)),
    ]) {
      const error = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GatewayError);
      expect(error).toMatchObject({ status: 400, errorCode: GwCode.VALIDATION });
    }
    const calls = sim.calls();
    expect(calls['taurusdb.instance'] + calls['taurusdb.getLock'] + calls['taurusdb.putLock']).toBe(
      0,
    );
  });

  it('refuses a region that could not be a host name', async () => {
    const client = clientWith();
    const error = await client
      .getInstance({ ...cnNorth, region: 'evil.example/x' }, project, financeProd.id)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ status: 502, errorCode: GwCode.UPSTREAM_ERROR });
    expect(sim.calls()['taurusdb.instance']).toBe(0);
  });

  it('throws UpstreamUnauthorizedError when TaurusDB refuses the token, without leaking it', async () => {
    const client = clientWith();
    await admin('tokens/revoke');
    const error = await failure(client.getInstance(cnNorth, project, financeProd.id));
    expect(error).toBeInstanceOf(UpstreamUnauthorizedError);
    expect(error).toMatchObject({ status: 502, upstreamStatus: 401 });
    expect(error.cause).toBeUndefined();
    expect(`${error.message} ${JSON.stringify(error)} ${error.stack}`).not.toContain(cnNorth.token);
  });

  it('answers 502 for a 5xx', async () => {
    const client = clientWith();
    await fault({ route: 'taurusdb.getLock', status: 500 });
    const error = await failure(client.getVaultLock(cnNorth, project, financeProd.id));
    expect(error).toMatchObject({
      status: 502,
      errorCode: GwCode.UPSTREAM_ERROR,
      upstreamStatus: 500,
    });
    expect(error.message).toMatch(/^TaurusDB answered 500/);
    expect(sim.calls()['taurusdb.getLock']).toBe(1);
  });

  it('retries a GET after a 503 and succeeds', async () => {
    const client = clientWith();
    await fault({ route: 'taurusdb.instance', status: 503, times: 1 });
    await expect(client.getInstance(cnNorth, project, financeProd.id)).resolves.toMatchObject({
      id: financeProd.id,
    });
    expect(sim.calls()['taurusdb.instance']).toBe(2);
    expect(await requestsCounted('getInstance', '503')).toBe(1);
  });

  it('gives up on a GET after three attempts', async () => {
    const client = clientWith();
    await fault({ route: 'taurusdb.getLock', status: 504 });
    const error = await failure(client.getVaultLock(cnNorth, project, financeProd.id));
    expect(error).toMatchObject({ status: 502, upstreamStatus: 504, outcomeUncertain: false });
    expect(sim.calls()['taurusdb.getLock']).toBe(3);
  });

  it('does not retry a PUT after a 503', async () => {
    const client = clientWith();
    await fault({ route: 'taurusdb.putLock', status: 503, times: 1 });
    const error = await failure(
      client.setVaultLock(cnNorth, project, financeProd.id, lockBody('enable', 30)),
    );
    expect(error).toMatchObject({ status: 502, upstreamStatus: 503, outcomeUncertain: false });
    expect(sim.calls()['taurusdb.putLock']).toBe(1);
  });

  it('retries a throttled GET once Retry-After has passed', async () => {
    const client = clientWith();
    await fault({ route: 'taurusdb.getLock', retryAfterSeconds: 1, times: 1 });
    await expect(client.getVaultLock(cnNorth, project, financeProd.id)).resolves.toMatchObject({
      backup_vaultlock_info: { lock_policy: false },
    });
    expect(sim.calls()['taurusdb.getLock']).toBe(2);
  });

  it('passes a Retry-After beyond the deadline on to the caller instead of waiting', async () => {
    const client = clientWith({ timeoutMs: 2000 });
    await fault({ route: 'taurusdb.getLock', retryAfterSeconds: 30, times: 1 });
    const error = await failure(client.getVaultLock(cnNorth, project, financeProd.id));
    expect(error).toMatchObject({ status: 429, retryAfterSeconds: 30, upstreamStatus: 429 });
    expect(sim.calls()['taurusdb.getLock']).toBe(1);
  });

  it('answers 504 when the deadline passes, uncertain for the PUT', async () => {
    const client = clientWith({ timeoutMs: 200 });
    await fault({ route: 'taurusdb.putLock', latencyMs: 2000, times: 1 });
    await fault({ route: 'taurusdb.getLock', latencyMs: 2000, times: 1 });
    const put = await failure(
      client.setVaultLock(cnNorth, project, financeProd.id, lockBody('enable', 30)),
    );
    expect(put).toMatchObject({
      status: 504,
      errorCode: GwCode.UPSTREAM_TIMEOUT,
      outcomeUncertain: true,
    });
    const get = await failure(client.getVaultLock(cnNorth, project, financeProd.id));
    expect(get).toMatchObject({ status: 504, outcomeUncertain: false });
    expect(sim.calls()['taurusdb.getLock']).toBe(1);
    expect(await requestsCounted('setVaultLock', 'timeout')).toBe(1);
  });

  it('answers 503 when the connection is cut mid-answer, uncertain for the PUT', async () => {
    const client = clientWith();
    await fault({ route: 'taurusdb.putLock', reset: true });
    const put = await failure(
      client.setVaultLock(cnNorth, project, financeProd.id, lockBody('enable', 30)),
    );
    expect(put).toMatchObject({
      status: 503,
      errorCode: GwCode.UPSTREAM_UNAVAILABLE,
      outcomeUncertain: true,
    });
    expect(sim.calls()['taurusdb.putLock']).toBe(1);

    await fault({ route: 'taurusdb.getLock', reset: true, times: 1 });
    await expect(client.getVaultLock(cnNorth, project, financeProd.id)).resolves.toBeDefined();
    expect(sim.calls()['taurusdb.getLock']).toBe(2);
  });

  it('answers 502 for a malformed or oversized answer, uncertain for the PUT', async () => {
    const client = clientWith();
    await fault({ route: 'taurusdb.putLock', malformed: true, times: 1 });
    await fault({ route: 'taurusdb.instance', malformed: true, times: 1 });
    await fault({ route: 'taurusdb.getLock', oversizedBytes: 2 * 1024 * 1024, times: 1 });
    const put = await failure(
      client.setVaultLock(cnNorth, project, financeProd.id, lockBody('enable', 30)),
    );
    expect(put).toMatchObject({
      status: 502,
      errorCode: GwCode.UPSTREAM_ERROR,
      outcomeUncertain: true,
    });
    const instance = await failure(client.getInstance(cnNorth, project, financeProd.id));
    expect(instance).toMatchObject({ status: 502, outcomeUncertain: false });
    const oversized = await failure(client.getVaultLock(cnNorth, project, financeProd.id));
    expect(oversized).toMatchObject({ status: 502, errorCode: GwCode.UPSTREAM_ERROR });
  });

  it('retries a PUT whose connection was refused, and answers 503', async () => {
    const client = clientWith({ endpoint: await closedPortUrl() });
    const error = await failure(
      client.setVaultLock(cnNorth, project, financeProd.id, lockBody('enable', 30)),
    );
    expect(error).toMatchObject({
      status: 503,
      errorCode: GwCode.UPSTREAM_UNAVAILABLE,
      outcomeUncertain: false,
    });
    expect(await requestsCounted('setVaultLock', 'unreachable')).toBe(3);
  });

  it('opens the circuit after repeated failures, and closes it once TaurusDB recovers', async () => {
    const halfOpenMs = 10_000;
    const client = clientWith({ breakerThreshold: 3, breakerHalfOpenMs: halfOpenMs });
    await fault({ route: 'taurusdb.instance', status: 500, times: 3 });
    for (let i = 0; i < 3; i += 1) {
      expect(await failure(client.getInstance(cnNorth, project, financeProd.id))).toMatchObject({
        status: 502,
      });
    }
    expect(sim.calls()['taurusdb.instance']).toBe(3);

    const open = await failure(client.getInstance(cnNorth, project, financeProd.id));
    expect(open).toMatchObject({ status: 503, errorCode: GwCode.UPSTREAM_UNAVAILABLE });
    expect(sim.calls()['taurusdb.instance']).toBe(3);
    expect(await requestsCounted('getInstance', 'circuit-open')).toBe(1);
    // Another region has its own base URL, so its circuit is still closed.
    await expect(
      client.getInstance(apac, PROJECTS.apSoutheast1.id, apacProd.id),
    ).resolves.toBeDefined();

    // The half-open wait passes without a real one: cockatiel reads its time from Date.now.
    const realNow = Date.now;
    const later = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + halfOpenMs);
    try {
      await expect(client.getInstance(cnNorth, project, financeProd.id)).resolves.toBeDefined();
      await expect(client.getInstance(cnNorth, project, financeProd.id)).resolves.toBeDefined();
    } finally {
      later.mockRestore();
    }
    // 3 failures, the other region's call, then the trial call and one more once closed
    expect(sim.calls()['taurusdb.instance']).toBe(6);
  });

  it('pings the probe region, and reports an unreachable TaurusDB', async () => {
    await expect(clientWith().ping()).resolves.toBeUndefined();
    const error = await failure(clientWith({ endpoint: await closedPortUrl() }).ping());
    expect(error).toMatchObject({ status: 503, errorCode: GwCode.UPSTREAM_UNAVAILABLE });
  });

  it('is provided by TaurusDbModule from the environment', async () => {
    const names = ['TAURUSDB_ENDPOINT', 'IAM_ENDPOINT', 'IAM_IDP_ID'] as const;
    const saved = names.map((name) => process.env[name]);
    // The module also provides the TaurusDb port, whose IAM tokens come from the IAM module.
    Object.assign(process.env, {
      TAURUSDB_ENDPOINT: `${sim.url}/{region}`,
      IAM_ENDPOINT: sim.url,
      IAM_IDP_ID: 'sim-idp',
    });
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [CommonModule, TaurusDbModule],
      }).compile();
      const client = moduleRef.get(TaurusDbClient);
      await expect(client.getInstance(cnNorth, project, financeProd.id)).resolves.toMatchObject({
        id: financeProd.id,
      });
      await moduleRef.close();
    } finally {
      names.forEach((name, i) => {
        if (saved[i] === undefined) delete process.env[name];
        else process.env[name] = saved[i];
      });
    }
  });
});
