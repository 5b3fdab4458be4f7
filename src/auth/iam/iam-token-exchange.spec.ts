import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Clock } from '../../common/clock.js';
import { GatewayError, GwCode } from '../../common/gateway-error.js';
import { GatewayMetrics } from '../../common/gateway-metrics.js';
import { PROJECTS } from '../../simulator/fixtures.js';
import { startSimulator } from '../../simulator/simulator.js';
import { Principal } from '../../domain/principal.js';
import { ServiceAccount, type IamConfig } from './iam.config.js';
import type { IamToken } from './iam-token.js';
import { IamTokenExchange } from './iam-token-exchange.js';
import { Tracing } from '../../tracing/tracing.js';

type Simulator = Awaited<ReturnType<typeof startSimulator>>;

const SIM_PASSWORD = 'sim-password';

describe('IamTokenExchange against the simulator', () => {
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

  const serviceAccount = (password = SIM_PASSWORD) =>
    new ServiceAccount('sim-domain', 'sim-service', password);

  const configFor = (mode: IamConfig['mode'], endpoint = sim.url): IamConfig => {
    switch (mode) {
      case 'oidc':
        return { endpoint, mode, idpId: 'sim-idp' };
      case 'password':
        return { endpoint, mode, serviceAccount: serviceAccount() };
      case 'agency':
        return {
          endpoint,
          mode,
          serviceAccount: serviceAccount(),
          agency: { domainName: 'tenant-domain', agencyName: 'vault-lock-agency' },
        };
    }
  };

  const exchangeWith = (config: IamConfig, timeoutMs = 5000) => {
    const metrics = new GatewayMetrics();
    const exchange = new IamTokenExchange(
      config,
      { timeoutMs },
      new Clock(),
      metrics,
      new Tracing(),
    );
    exchanges.push(exchange);
    return { exchange, metrics };
  };

  const principal = async (expiresInSeconds?: number) => {
    const jwt = await sim.mintToken({ sub: 'alice', expiresInSeconds });
    return { jwt, principal: new Principal(sim.idpIssuer, 'alice', ['dba'], jwt) };
  };

  const admin = async (path: string, body: Record<string, unknown> = {}) => {
    const response = await fetch(`${sim.url}/__admin/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.ok).toBe(true);
  };
  const fault = (body: Record<string, unknown>) => admin('faults', body);

  const failureOf = async (promise: Promise<unknown>): Promise<GatewayError> => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  };

  const exchangeCount = async (metrics: GatewayMetrics, mode: string, outcome: string) =>
    (await metrics.iamExchanges.get()).values.find(
      (v) => v.labels.mode === mode && v.labels.outcome === outcome,
    )?.value ?? 0;

  it('swaps the caller JWT in oidc mode for a token naming the project region', async () => {
    const { exchange, metrics } = exchangeWith(configFor('oidc'));
    const { principal: alice } = await principal();

    const cn = await exchange.exchange(alice, PROJECTS.cnNorth4.id);
    const ap = await exchange.exchange(alice, PROJECTS.apSoutheast1.id);

    expect(cn).toMatchObject({ projectId: PROJECTS.cnNorth4.id, region: 'cn-north-4' });
    expect(ap).toMatchObject({
      projectId: PROJECTS.apSoutheast1.id,
      projectName: 'ap-southeast-1_finance',
      region: 'ap-southeast-1',
    });
    expect(cn.value()).not.toBe('');
    expect(cn.expiresAt.getTime()).toBeGreaterThan(cn.issuedAt.getTime());
    expect(sim.calls()['iam.oidc']).toBe(2);
    expect(await exchangeCount(metrics, 'oidc', 'ok')).toBe(2);
  });

  it('logs the service account in, scoped to the project, in password mode', async () => {
    const { exchange } = exchangeWith(configFor('password'));
    const { principal: alice } = await principal();

    const token = await exchange.exchange(alice, PROJECTS.apSoutheast1.id);

    expect(token).toMatchObject({ projectId: PROJECTS.apSoutheast1.id, region: 'ap-southeast-1' });
    expect(sim.calls()['iam.password']).toBe(1);
    expect(sim.calls()['iam.oidc']).toBe(0);
  });

  it('assumes the agency with the service account login it is given', async () => {
    const { exchange } = exchangeWith(configFor('agency'));
    const { principal: alice } = await principal();
    const login = await exchange.serviceAccountLogin(PROJECTS.cnNorth4.id);
    const revoked: IamToken[] = [];
    const logins = {
      tokenFor: async () => login,
      revoked: async (token: IamToken) => void revoked.push(token),
    };

    const token = await exchange.exchange(alice, PROJECTS.cnNorth4.id, logins);
    await admin('tokens/revoke');
    const error = await failureOf(exchange.exchange(alice, PROJECTS.cnNorth4.id, logins));

    expect(token).toMatchObject({ projectId: PROJECTS.cnNorth4.id, region: 'cn-north-4' });
    expect(token.sameAs(login)).toBe(false);
    expect(error).toMatchObject({ status: 403, errorCode: GwCode.IAM_REFUSED });
    expect(revoked).toEqual([login]);
    expect(sim.calls()['iam.password']).toBe(1);
    expect(sim.calls()['iam.assumeRole']).toBe(2);
  });

  it('answers 403 IAM_REFUSED, without the JWT, when IAM refuses an expired JWT', async () => {
    const { exchange, metrics } = exchangeWith(configFor('oidc'));
    const { jwt, principal: expired } = await principal(-10);

    const error = await failureOf(exchange.exchange(expired, PROJECTS.cnNorth4.id));

    expect(error).toMatchObject({ status: 403, errorCode: GwCode.IAM_REFUSED });
    expect(error.message).toBe(
      `IAM refused the token exchange for project ${PROJECTS.cnNorth4.id}`,
    );
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(jwt);
    expect(error.cause).toBeUndefined();
    expect(sim.calls()['iam.oidc']).toBe(1);
    expect(await exchangeCount(metrics, 'oidc', 'refused')).toBe(1);
  });

  it('answers 403 IAM_REFUSED when the service account password is wrong', async () => {
    const config: IamConfig = {
      endpoint: sim.url,
      mode: 'password',
      serviceAccount: serviceAccount('wrong-password'),
    };
    const { exchange } = exchangeWith(config);
    const { principal: alice } = await principal();

    const error = await failureOf(exchange.exchange(alice, PROJECTS.cnNorth4.id));

    expect(error).toMatchObject({ status: 403, errorCode: GwCode.IAM_REFUSED });
    expect(error.message).not.toContain('wrong-password');
  });

  it('retries an IAM 500 and then answers 503 IAM_UNAVAILABLE', async () => {
    const { exchange, metrics } = exchangeWith(configFor('oidc'));
    const { principal: alice } = await principal();
    await fault({ route: 'iam.oidc', status: 500 });

    const error = await failureOf(exchange.exchange(alice, PROJECTS.cnNorth4.id));

    expect(error).toMatchObject({ status: 503, errorCode: GwCode.IAM_UNAVAILABLE });
    expect(sim.calls()['iam.oidc']).toBe(3);
    expect(await exchangeCount(metrics, 'oidc', 'unavailable')).toBe(1);
  });

  it('gets the token when a retry follows a passing 503 or a connection reset', async () => {
    const { exchange } = exchangeWith(configFor('oidc'));
    const { principal: alice } = await principal();
    await fault({ route: 'iam.oidc', status: 503, times: 1 });
    await fault({ route: 'iam.oidc', reset: true, times: 1 });

    const token = await exchange.exchange(alice, PROJECTS.cnNorth4.id);

    expect(token.projectId).toBe(PROJECTS.cnNorth4.id);
    expect(sim.calls()['iam.oidc']).toBe(3);
  });

  it('answers 504 UPSTREAM_TIMEOUT when IAM is slower than the deadline', async () => {
    const { exchange, metrics } = exchangeWith(configFor('oidc'), 200);
    const { principal: alice } = await principal();
    await fault({ route: 'iam.oidc', latencyMs: 1000 });

    const error = await failureOf(exchange.exchange(alice, PROJECTS.cnNorth4.id));

    expect(error).toMatchObject({ status: 504, errorCode: GwCode.UPSTREAM_TIMEOUT });
    expect(await exchangeCount(metrics, 'oidc', 'timeout')).toBe(1);
  });

  it('answers 502 UPSTREAM_ERROR when IAM answers without a usable token', async () => {
    const { exchange } = exchangeWith(configFor('oidc'));
    const { principal: alice } = await principal();
    await fault({ route: 'iam.oidc', malformed: true });

    const error = await failureOf(exchange.exchange(alice, PROJECTS.cnNorth4.id));

    expect(error).toMatchObject({ status: 502, errorCode: GwCode.UPSTREAM_ERROR });
  });

  it('pings a reachable IAM and fails on an unreachable one', async () => {
    await exchangeWith(configFor('oidc')).exchange.ping();

    const closed = await startSimulator({ port: 0 });
    const unreachable = closed.url;
    await closed.close();
    const error = await failureOf(exchangeWith(configFor('oidc', unreachable)).exchange.ping());
    expect(error).toMatchObject({ status: 503, errorCode: GwCode.IAM_UNAVAILABLE });
  });
});
