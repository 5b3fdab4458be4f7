import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { Clock } from '../../common/clock.js';
import { GatewayMetrics } from '../../common/gateway-metrics.js';
import { PROJECTS } from '../../simulator/fixtures.js';
import { startSimulator } from '../../simulator/simulator.js';
import { Principal } from '../../domain/principal.js';
import { ServiceAccount, type IamConfig } from './iam.config.js';
import { InMemoryIamTokenCache } from './iam-token-cache.js';
import { IamTokenExchange, SERVICE_IDENTITY } from './iam-token-exchange.js';
import { IamTokenProvider } from './iam-token-provider.js';
import { Tracing } from '../../tracing/tracing.js';

type Simulator = Awaited<ReturnType<typeof startSimulator>>;

const PROJECT = PROJECTS.apSoutheast1.id;

describe('IamTokenProvider against the simulator', () => {
  let sim: Simulator;
  const exchanges: IamTokenExchange[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
  });

  afterEach(async () => {
    await Promise.all(exchanges.splice(0).map((exchange) => exchange.onApplicationShutdown()));
    sim.reset();
  });

  afterAll(async () => {
    await sim.close();
  });

  const providerWith = (config: IamConfig = { endpoint: sim.url, mode: 'oidc', idpId: 'idp' }) => {
    const clock = new Clock();
    const metrics = new GatewayMetrics();
    const cache = new InMemoryIamTokenCache(clock);
    const exchange = new IamTokenExchange(
      config,
      { timeoutMs: 5000 },
      clock,
      metrics,
      new Tracing(),
    );
    exchanges.push(exchange);
    const provider = new IamTokenProvider(config, exchange, cache, clock, metrics, new Tracing());
    return { provider, cache, metrics };
  };

  const principal = async (sub = 'alice') =>
    new Principal(sim.idpIssuer, sub, ['dba'], await sim.mintToken({ sub }));

  const admin = async (path: string, body: Record<string, unknown>) => {
    const response = await fetch(`${sim.url}/__admin/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.ok).toBe(true);
  };

  const cacheCount = async (metrics: GatewayMetrics, result: string) =>
    (await metrics.iamTokenCache.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

  /** Background work has no handle to await; poll its visible effect, a bounded number of times. */
  const eventually = async (condition: () => Promise<boolean>) => {
    for (let round = 0; round < 500 && !(await condition()); round++) {
      await sleep(10);
    }
    expect(await condition()).toBe(true);
  };

  it('shares one exchange between 50 concurrent misses, then answers from the cache', async () => {
    const { provider, metrics } = providerWith();
    const alice = await principal();

    const tokens = await Promise.all(
      Array.from({ length: 50 }, () => provider.tokenFor(alice, PROJECT)),
    );
    const later = await provider.tokenFor(alice, PROJECT);

    expect(sim.calls()['iam.oidc']).toBe(1);
    expect(tokens.every((token) => token === tokens[0])).toBe(true);
    expect(later).toBe(tokens[0]);
    expect(tokens[0].region).toBe('ap-southeast-1');
    expect(await cacheCount(metrics, 'miss')).toBe(1);
    expect(await cacheCount(metrics, 'shared')).toBe(49);
    expect(await cacheCount(metrics, 'hit')).toBe(1);
  });

  it('keeps callers apart in oidc mode', async () => {
    const { provider } = providerWith();

    const [alice, bob] = await Promise.all([principal('alice'), principal('bob')]);
    const [forAlice, forBob] = await Promise.all([
      provider.tokenFor(alice, PROJECT),
      provider.tokenFor(bob, PROJECT),
    ]);

    expect(forAlice.sameAs(forBob)).toBe(false);
    expect(sim.calls()['iam.oidc']).toBe(2);
  });

  it('shares the service account token between callers in password mode', async () => {
    const serviceAccount = new ServiceAccount('sim-domain', 'sim-service', 'sim-password');
    const { provider } = providerWith({ endpoint: sim.url, mode: 'password', serviceAccount });

    const forAlice = await provider.tokenFor(await principal('alice'), PROJECT);
    const forBob = await provider.tokenFor(await principal('bob'), PROJECT);

    expect(forBob).toBe(forAlice);
    expect(sim.calls()['iam.password']).toBe(1);
  });

  describe('the service identity', () => {
    const simAccount = () => new ServiceAccount('sim-domain', 'sim-service', 'sim-password');

    it("is the optional service account's password login in oidc mode, kept apart from callers", async () => {
      const { provider, cache } = providerWith({
        endpoint: sim.url,
        mode: 'oidc',
        idpId: 'idp',
        serviceAccount: simAccount(),
      });
      const alice = await principal();

      const [service, again, forAlice] = await Promise.all([
        provider.tokenFor(SERVICE_IDENTITY, PROJECT),
        provider.tokenFor(SERVICE_IDENTITY, PROJECT),
        provider.tokenFor(alice, PROJECT),
      ]);

      expect(again).toBe(service);
      expect(service.sameAs(forAlice)).toBe(false);
      expect(service).toMatchObject({ projectId: PROJECT, region: 'ap-southeast-1' });
      expect(await cache.get(`oidc|service:sim-domain/sim-service|${PROJECT}`)).toBe(service);
      expect(sim.calls()['iam.password']).toBe(1);
      expect(sim.calls()['iam.oidc']).toBe(1);
    });

    it('is evicted and logged in again once TaurusDB refuses it', async () => {
      const { provider } = providerWith({
        endpoint: sim.url,
        mode: 'oidc',
        idpId: 'idp',
        serviceAccount: simAccount(),
      });
      const first = await provider.tokenFor(SERVICE_IDENTITY, PROJECT);
      await provider.evict(SERVICE_IDENTITY, PROJECT, first);
      const second = await provider.tokenFor(SERVICE_IDENTITY, PROJECT);

      expect(second.sameAs(first)).toBe(false);
      expect(sim.calls()['iam.password']).toBe(2);
    });

    it('is refused in oidc mode without a service account, asking IAM nothing', async () => {
      const { provider } = providerWith();

      await expect(provider.tokenFor(SERVICE_IDENTITY, PROJECT)).rejects.toMatchObject({
        status: 500,
      });
      expect(sim.calls()['iam.password'] ?? 0).toBe(0);
      expect(sim.calls()['iam.oidc'] ?? 0).toBe(0);
    });

    it('is the token every caller gets in password mode', async () => {
      const { provider } = providerWith({
        endpoint: sim.url,
        mode: 'password',
        serviceAccount: simAccount(),
      });

      const forAlice = await provider.tokenFor(await principal('alice'), PROJECT);
      const service = await provider.tokenFor(SERVICE_IDENTITY, PROJECT);

      expect(service).toBe(forAlice);
      expect(sim.calls()['iam.password']).toBe(1);
    });

    it('is the agency token every caller gets in agency mode', async () => {
      const { provider } = providerWith({
        endpoint: sim.url,
        mode: 'agency',
        serviceAccount: simAccount(),
        agency: { domainName: 'tenant-domain', agencyName: 'vault-lock-agency' },
      });

      const service = await provider.tokenFor(SERVICE_IDENTITY, PROJECT);
      const forAlice = await provider.tokenFor(await principal('alice'), PROJECT);

      expect(forAlice).toBe(service);
      expect(sim.calls()['iam.assumeRole']).toBe(1);
    });
  });

  describe('in agency mode', () => {
    const agencyConfig = (): IamConfig => ({
      endpoint: sim.url,
      mode: 'agency',
      serviceAccount: new ServiceAccount('sim-domain', 'sim-service', 'sim-password'),
      agency: { domainName: 'tenant-domain', agencyName: 'vault-lock-agency' },
    });
    const loginKey = (projectId: string) => `agency|login|sim-domain/sim-service|${projectId}`;
    const CN = PROJECTS.cnNorth4.id;

    it("keeps the service account's own login in the token cache, one per project", async () => {
      const { provider, cache } = providerWith(agencyConfig());
      const [alice, bob] = await Promise.all([principal('alice'), principal('bob')]);

      const [ap, cn, cnForBob] = await Promise.all([
        provider.tokenFor(alice, PROJECT),
        provider.tokenFor(alice, CN),
        provider.tokenFor(bob, CN),
      ]);
      // TaurusDB refused the agency token: the next one is assumed with the cached login.
      await provider.evict(alice, CN, cn);
      const again = await provider.tokenFor(bob, CN);

      expect(ap).toMatchObject({ projectId: PROJECT, region: 'ap-southeast-1' });
      expect(cnForBob).toBe(cn);
      expect(again.sameAs(cn)).toBe(false);
      expect(await cache.get(loginKey(CN))).toMatchObject({ projectId: CN });
      expect(await cache.get(loginKey(PROJECT))).toMatchObject({ projectId: PROJECT });
      expect(sim.calls()['iam.password']).toBe(2);
      expect(sim.calls()['iam.assumeRole']).toBe(3);
    });

    it('logs the service account in again once IAM has revoked its token', async () => {
      const { provider, cache } = providerWith(agencyConfig());
      const alice = await principal();
      const first = await provider.tokenFor(alice, CN);
      const login = await cache.get(loginKey(CN));
      await admin('tokens/revoke', {});
      await provider.evict(alice, CN, first);

      await expect(provider.tokenFor(alice, CN)).rejects.toMatchObject({
        status: 403,
        errorCode: 'GW.IAM_REFUSED',
      });
      const second = await provider.tokenFor(alice, CN);

      expect(second.sameAs(first)).toBe(false);
      expect(login && (await cache.get(loginKey(CN)))?.sameAs(login)).toBe(false);
      expect(sim.calls()['iam.password']).toBe(2);
      expect(sim.calls()['iam.assumeRole']).toBe(3);
    });
  });

  it('evicts only the token that failed, not one that already replaced it', async () => {
    const { provider, metrics } = providerWith();
    const alice = await principal();
    const first = await provider.tokenFor(alice, PROJECT);

    await provider.evict(alice, PROJECT, first);
    const second = await provider.tokenFor(alice, PROJECT);
    await provider.evict(alice, PROJECT, first);
    const third = await provider.tokenFor(alice, PROJECT);

    expect(second.sameAs(first)).toBe(false);
    expect(third).toBe(second);
    expect(sim.calls()['iam.oidc']).toBe(2);
    expect(await cacheCount(metrics, 'evict')).toBe(2);
  });

  it('answers from the cache and refreshes once in the background when a token ages', async () => {
    // 2 minutes: usable (over a minute left) but already under the 5-minute refresh margin.
    await admin('iam/token-lifetime', { seconds: 120 });
    const { provider, cache, metrics } = providerWith();
    const alice = await principal();
    const first = await provider.tokenFor(alice, PROJECT);

    const answers = await Promise.all(
      Array.from({ length: 5 }, () => provider.tokenFor(alice, PROJECT)),
    );
    const key = `oidc|${alice.id}|${PROJECT}`;
    await eventually(async () => {
      const cached = await cache.get(key);
      return cached !== undefined && !cached.sameAs(first);
    });

    expect(answers.every((token) => token === first)).toBe(true);
    expect(sim.calls()['iam.oidc']).toBe(2);
    expect(await cacheCount(metrics, 'refresh')).toBe(1);
  });

  it('keeps answering with the cached token when a background refresh fails', async () => {
    await admin('iam/token-lifetime', { seconds: 120 });
    const { provider, metrics } = providerWith();
    const alice = await principal();
    const first = await provider.tokenFor(alice, PROJECT);
    await admin('faults', { route: 'iam.oidc', status: 403 });

    const refusals = async () =>
      (await metrics.iamExchanges.get()).values.find((v) => v.labels.outcome === 'refused')
        ?.value ?? 0;

    expect(await provider.tokenFor(alice, PROJECT)).toBe(first);
    await eventually(async () => (await refusals()) === 1);
    expect(await provider.tokenFor(alice, PROJECT)).toBe(first);
    await eventually(async () => (await refusals()) === 2);
    expect(await cacheCount(metrics, 'refresh')).toBe(2);
  });

  it('exchanges again instead of answering with a token within a minute of expiry', async () => {
    await admin('iam/token-lifetime', { seconds: 30 });
    const { provider, metrics } = providerWith();
    const alice = await principal();

    const first = await provider.tokenFor(alice, PROJECT);
    const second = await provider.tokenFor(alice, PROJECT);

    expect(second.sameAs(first)).toBe(false);
    expect(sim.calls()['iam.oidc']).toBe(2);
    expect(await cacheCount(metrics, 'miss')).toBe(2);
  });
});
