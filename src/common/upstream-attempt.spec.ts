import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Clock } from './clock.js';
import { GatewayMetrics } from './gateway-metrics.js';
import { UpstreamAttempts } from './upstream-attempt.js';
import { TransportFailure } from './upstream-http.js';
import { Tracing } from '../tracing/tracing.js';

describe('UpstreamAttempts', () => {
  let server: Server;
  let origin: string;
  let metrics: GatewayMetrics;
  let attempts: UpstreamAttempts;

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/drop') {
        // The request arrived; the connection ends without an answer.
        request.socket.destroy();
        return;
      }
      if (request.url === '/slow') return;
      response.writeHead(503, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    metrics = new GatewayMetrics();
    attempts = new UpstreamAttempts('taurusdb', 2000, metrics, new Clock(), new Tracing());
  });

  afterEach(() => attempts.close());

  const send = (url: string, timeoutMs = 2000) =>
    attempts.send('getVaultLock', {
      method: 'GET',
      url,
      headers: {},
      signal: AbortSignal.timeout(timeoutMs),
    });

  const counted = async () =>
    (await metrics.upstreamRequests.get()).values.map((value) => ({
      ...value.labels,
      value: value.value,
    }));

  const closedPortUrl = async (): Promise<string> => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    return `http://127.0.0.1:${port}/`;
  };

  it('counts an answer by its status and times it', async () => {
    const answer = await send(`${origin}/`);

    expect(answer.status).toBe(503);
    expect(await counted()).toEqual([
      { service: 'taurusdb', operation: 'getVaultLock', status: '503', value: 1 },
    ]);
    const durations = (await metrics.upstreamDuration.get()).values;
    expect(durations.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
  });

  it.each([
    ['unreachable', 'a refused connection (never sent)', async () => closedPortUrl()],
    [
      'connection-lost',
      'a connection lost after the request went out',
      async () => `${origin}/drop`,
    ],
  ])('counts %s for %s', async (status, _what, url) => {
    await expect(send(await url())).rejects.toBeInstanceOf(TransportFailure);

    expect(await counted()).toEqual([
      { service: 'taurusdb', operation: 'getVaultLock', status, value: 1 },
    ]);
  });

  it('counts a timeout when the deadline passes', async () => {
    await expect(send(`${origin}/slow`, 100)).rejects.toMatchObject({
      fault: { kind: 'timeout' },
    });

    expect((await counted())[0]).toMatchObject({ status: 'timeout' });
  });

  it('counts an attempt turned away before it was sent', async () => {
    attempts.countNotSent('setVaultLock', 'circuit-open');

    expect(await counted()).toEqual([
      { service: 'taurusdb', operation: 'setVaultLock', status: 'circuit-open', value: 1 },
    ]);
  });
});
