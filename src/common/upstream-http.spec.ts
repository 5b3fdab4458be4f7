import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TransportFailure, UpstreamHttp } from './upstream-http.js';

describe('UpstreamHttp', () => {
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/moved') {
        response.writeHead(302, { location: 'http://elsewhere.example/' }).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const get = (http: UpstreamHttp, path: string) =>
    http.request({
      method: 'GET',
      url: `${origin}${path}`,
      headers: { 'x-auth-token': 'secret-token' },
      signal: AbortSignal.timeout(2000),
    });

  async function failureOf(request: Promise<unknown>): Promise<TransportFailure> {
    const error = await request.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransportFailure);
    return error as TransportFailure;
  }

  it('answers with the status and the parsed body, and follows no redirect', async () => {
    const http = new UpstreamHttp(2000);
    try {
      expect(await get(http, '/lock')).toMatchObject({ status: 200, json: { ok: true } });
      expect(await get(http, '/moved')).toMatchObject({ status: 302, json: undefined });
    } finally {
      await http.close();
    }
  });

  it('reports a request asked for after close as never sent, and keeps the token out of the error', async () => {
    const http = new UpstreamHttp(2000);
    await get(http, '/lock');
    await http.close();

    const failure = await failureOf(get(http, '/lock'));
    expect(failure.fault).toEqual({
      kind: 'network',
      code: expect.stringMatching(/^UND_ERR_(CLOSED|DESTROYED)$/),
      requestSent: false,
    });
    expect(JSON.stringify(failure)).not.toContain('secret-token');
    expect(String(failure.stack)).not.toContain('secret-token');
  });

  it('reports a refused connection as never sent', async () => {
    const http = new UpstreamHttp(2000);
    try {
      const failure = await failureOf(
        http.request({
          method: 'PUT',
          url: 'http://127.0.0.1:1/lock',
          headers: {},
          body: { days: 1 },
          signal: AbortSignal.timeout(2000),
        }),
      );
      expect(failure.fault).toEqual({ kind: 'network', code: 'ECONNREFUSED', requestSent: false });
    } finally {
      await http.close();
    }
  });
});
