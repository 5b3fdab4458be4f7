import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { registerAdminRoutes } from './admin.js';
import { CallCounter } from './call-counter.js';
import {
  DEV_AUDIENCE,
  DevIdentityProvider,
  idpRoutes,
  type MintRequest,
} from './dev-identity-provider.js';
import { FaultInjector } from './fault-injector.js';
import { IamTokenStore, iamRoutes } from './iam.js';
import { parseBodyLeniently } from './request-input.js';
import type { RouteName } from './route-names.js';
import { addSimulatedRoute } from './simulated-route.js';
import { NO_SUCH_API, SimCode, SimulatorError } from './simulator-error.js';
import { VaultLockStore, taurusDbRoutes } from './taurusdb.js';
import { TraceContextLog, type ReceivedTraceContext } from './trace-context-log.js';

export type { MintRequest } from './dev-identity-provider.js';
export type { FaultSpec } from './fault-injector.js';
export { SERVICE_ACCOUNT } from './iam.js';
export { ROUTE_NAMES, type RouteName } from './route-names.js';
export type { ReceivedTraceContext } from './trace-context-log.js';

export interface SimulatorOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Fastify's request logging; off by default so the simulator stays cheap under load. */
  logger?: boolean;
  /**
   * The URL clients reach it by, when that is not the listen address (in a container network,
   * say): minted tokens name `${publicUrl}/idp` as their issuer.
   */
  publicUrl?: string;
}

export interface RunningSimulator {
  /** Base URL without a trailing slash: IAM, TaurusDB, the IdP and the admin API all live here. */
  url: string;
  idpIssuer: string;
  jwksUrl: string;
  /** The audience minted tokens carry unless asked for another. */
  audience: string;
  /** In-process equivalent of `POST /idp/dev/tokens` (not counted as a call). */
  mintToken(claims?: MintRequest): Promise<string>;
  /** In-process equivalent of `GET /__admin/calls`. */
  calls(): Record<RouteName, number>;
  /** In-process equivalent of `GET /__admin/trace-contexts`: the latest calls' `traceparent`. */
  traceContexts(): ReceivedTraceContext[];
  /** In-process equivalent of `POST /__admin/reset`. */
  reset(): void;
  close(): Promise<void>;
}

const baseUrl = (host: string, port: number): string =>
  `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * Starts a simulator of Huawei IAM, TaurusDB's vault lock calls and a development identity
 * provider on one port. All state lives in the returned instance, so several can run side by side.
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const host = options.host ?? '127.0.0.1';
  let url = '';
  const idp = await DevIdentityProvider.create(() => `${url}/idp`);
  const calls = new CallCounter();
  const traceContexts = new TraceContextLog();
  const faults = new FaultInjector();
  const tokens = new IamTokenStore();
  const locks = new VaultLockStore();
  const reset = (): void => {
    calls.reset();
    traceContexts.reset();
    faults.clear();
    tokens.reset();
    locks.clear();
  };

  const app = Fastify({ logger: options.logger ?? false, forceCloseConnections: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseBodyLeniently(body as string));
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof SimulatorError) {
      return reply.code(error.status).send({ error_code: error.code, error_msg: error.message });
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    const message = error instanceof Error ? error.message : 'internal error';
    return reply.code(status).send({
      error_code: status >= 500 ? SimCode.INTERNAL : SimCode.BAD_REQUEST,
      error_msg: message,
    });
  });
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error_code: NO_SUCH_API.code, error_msg: NO_SUCH_API.message }),
  );

  app.get('/idp/.well-known/openid-configuration', async () => idp.discovery());
  const harness = { calls, faults, traceContexts };
  for (const route of [
    ...idpRoutes(idp),
    ...iamRoutes(tokens, idp),
    ...taurusDbRoutes(tokens, locks),
  ]) {
    addSimulatedRoute(app, harness, route);
  }
  registerAdminRoutes(app, { calls, traceContexts, faults, tokens, reset });

  await app.listen({ port: options.port ?? 0, host });
  url =
    options.publicUrl?.replace(/\/+$/, '') ??
    baseUrl(host, (app.server.address() as AddressInfo).port);

  return {
    url,
    idpIssuer: idp.issuer,
    jwksUrl: `${idp.issuer}/jwks`,
    audience: DEV_AUDIENCE,
    mintToken: (claims) => idp.mint(claims),
    calls: () => calls.snapshot(),
    traceContexts: () => traceContexts.snapshot(),
    reset,
    close: async () => {
      faults.close();
      await app.close();
    },
  };
}
