import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { IamTokenExchange } from '../auth/iam/iam-token-exchange.js';
import { Clock } from '../common/clock.js';
import { Principal } from '../domain/principal.js';
import { CommonModule } from '../common/common.module.js';
import { ManualClock } from '../common/testing/manual-clock.js';
import { INSTANCES, PROJECTS } from '../simulator/fixtures.js';
import { startSimulator, type RunningSimulator } from '../simulator/simulator.js';
import { TaurusDb, type TaurusDbCaller } from './taurusdb.js';
import { TaurusDbModule } from './taurusdb.module.js';

const { financeProd, financeStaging } = INSTANCES;
const refOf = (instance: typeof financeProd) => ({
  projectId: instance.projectId,
  instanceId: instance.id,
});

describe('TaurusDb port (IAM token, 401 retry, instance cache) against the simulator', () => {
  const names = [
    'TAURUSDB_ENDPOINT',
    'IAM_ENDPOINT',
    'IAM_IDP_ID',
    'IAM_DOMAIN_NAME',
    'IAM_USER_NAME',
    'IAM_PASSWORD',
  ] as const;
  const saved = names.map((name) => process.env[name]);
  let sim: RunningSimulator;
  let moduleRef: TestingModule;
  let taurusDb: TaurusDb;
  let caller: TaurusDbCaller;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    Object.assign(process.env, {
      TAURUSDB_ENDPOINT: `${sim.url}/{region}`,
      IAM_ENDPOINT: sim.url,
      IAM_IDP_ID: 'sim-idp',
      // oidc mode with the optional service account: the identity of background work.
      IAM_DOMAIN_NAME: 'sim-domain',
      IAM_USER_NAME: 'sim-service',
      IAM_PASSWORD: 'sim-password',
    });
    moduleRef = await Test.createTestingModule({
      imports: [CommonModule, TaurusDbModule],
    })
      .overrideProvider(Clock)
      .useValue(clock)
      .compile();
    taurusDb = moduleRef.get(TaurusDb);
  });

  afterAll(async () => {
    await moduleRef.close();
    await sim.close();
    names.forEach((name, i) => {
      if (saved[i] === undefined) delete process.env[name];
      else process.env[name] = saved[i];
    });
  });

  beforeEach(async () => {
    const sub = `caller-${Math.random().toString(36).slice(2)}`;
    const raw = await sim.mintToken({ sub, groups: ['dba'] });
    caller = { principal: new Principal(sim.idpIssuer, sub, ['dba'], raw), requestId: 'req-1' };
  });

  it("exchanges the caller's token once and keeps the instance details briefly", async () => {
    const before = sim.calls();

    const first = await taurusDb.instanceDetails(caller, refOf(financeProd));
    const again = await taurusDb.instanceDetails(caller, refOf(financeProd));
    await taurusDb.showLock(caller, refOf(financeProd));

    expect(first).toMatchObject({ id: financeProd.id, tags: financeProd.tags });
    expect(again).toEqual(first);
    const after = sim.calls();
    expect(after['iam.oidc'] - before['iam.oidc']).toBe(1);
    expect(after['taurusdb.instance'] - before['taurusdb.instance']).toBe(1);
  });

  it('evicts a token TaurusDB refuses and tries once more with a fresh one', async () => {
    await taurusDb.showLock(caller, refOf(financeStaging));
    await fetch(`${sim.url}/__admin/tokens/revoke`, { method: 'POST' });
    const before = sim.calls();

    await expect(
      taurusDb.setLock(caller, refOf(financeStaging), { action: 'enable', retentionDays: 7 }),
    ).resolves.toHaveProperty('result');
    const state = await taurusDb.showLock(caller, refOf(financeStaging));

    const after = sim.calls();
    expect(after['iam.oidc'] - before['iam.oidc']).toBe(1);
    expect(after['taurusdb.putLock'] - before['taurusdb.putLock']).toBe(2);
    expect(state.backup_vaultlock_info).toMatchObject({
      lock_policy: true,
      lock_retention_days: 7,
    });
  });

  it('sends no change past its deadline: a fresh token after a refused one came too late', async () => {
    await taurusDb.showLock(caller, refOf(financeStaging));
    await fetch(`${sim.url}/__admin/tokens/revoke`, { method: 'POST' });
    const exchange = moduleRef.get(IamTokenExchange);
    const exchangeWithIam = exchange.exchange.bind(exchange);
    // A slow IAM, on the gateway's clock: each exchange takes longer than the deadline leaves.
    const slowIam = jest.spyOn(exchange, 'exchange').mockImplementation(async (...args) => {
      const token = await exchangeWithIam(...args);
      clock.advanceMs(2_500);
      return token;
    });
    const before = sim.calls();

    const change = { action: 'extend', retentionDays: 30 } as const;
    try {
      const late = taurusDb.setLock(caller, refOf(financeStaging), change, {
        sendByMs: clock.nowMs() + 1_000,
      });

      await expect(late).rejects.toMatchObject({ errorCode: 'GW.CLAIM_TOO_SHORT', status: 503 });
    } finally {
      slowIam.mockRestore();
    }
    const after = sim.calls();
    // The first PUT was refused for its token; the second was never sent.
    expect(after['taurusdb.putLock'] - before['taurusdb.putLock']).toBe(1);
    expect(after['iam.oidc'] - before['iam.oidc']).toBe(1);
  });

  it('calls with the service identity when asked, and keeps what it read apart from the caller', async () => {
    const service: TaurusDbCaller = { ...caller, identity: 'service' };
    const before = sim.calls();

    const asService = await taurusDb.instanceDetails(service, refOf(financeProd));
    await taurusDb.showLock(service, refOf(financeProd));
    const asCaller = await taurusDb.instanceDetails(caller, refOf(financeProd));

    expect(asService).toEqual(asCaller);
    const after = sim.calls();
    expect(after['iam.password'] - (before['iam.password'] ?? 0)).toBe(1);
    expect(after['iam.oidc'] - before['iam.oidc']).toBe(1);
    expect(after['taurusdb.instance'] - before['taurusdb.instance']).toBe(2);
  });

  it('lists instances with the same refresh of a refused token', async () => {
    const query = { offset: 0, limit: 3, tags: [] };
    await taurusDb.listInstances(caller, PROJECTS.cnNorth4Fleet.id, query);
    await fetch(`${sim.url}/__admin/tokens/revoke`, { method: 'POST' });
    const before = sim.calls();

    const page = await taurusDb.listInstances(caller, PROJECTS.cnNorth4Fleet.id, query);

    const after = sim.calls();
    expect(page.instances).toHaveLength(3);
    expect(after['iam.oidc'] - before['iam.oidc']).toBe(1);
    expect(after['taurusdb.listInstances'] - before['taurusdb.listInstances']).toBe(2);
  });
});
