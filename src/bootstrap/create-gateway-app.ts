import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import { AppModule } from '../app.module.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { appConfig } from '../config/app.config.js';
import { fastifyTrustProxy } from '../config/trust-proxy.js';
import { answerClientError, answerFrameworkError } from './client-error.js';
import { setupOpenApi } from './openapi.js';
import { acceptJsonBodiesOnly } from './json-body.js';
import { installRequestHooks } from './request-hooks.js';
import { Tracing } from '../tracing/tracing.js';
import { requestIdFor } from './request-id.js';

/** The contract's request size limit: far above any valid body, far below anything harmful. */
export const BODY_LIMIT_BYTES = 16 * 1024;

/** Builds the gateway as `main.ts` runs it; the end-to-end tests build it the same way. */
export async function createGatewayApp(): Promise<NestFastifyApplication> {
  // Read here, not through Nest: the adapter's options are fixed before the module exists.
  const { requestTimeoutMs, trustedProxies } = appConfig();
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: requestIdFor,
    requestIdHeader: false,
    // Decides `request.ip`, the caller address that audit rows record.
    trustProxy: fastifyTrustProxy(trustedProxies),
    // Slow clients are cut off instead of holding sockets. There is deliberately no idle-socket
    // timeout: it would also cut a caller off while its mutation is still running upstream,
    // leaving it without the answer to an irreversible call.
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: 72_000,
    // Node checks these two only every 30 s by default, which would let a slow client hold its
    // socket for up to twice the timeout; its own headers timeout would be 60 s.
    http: {
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.ceil(requestTimeoutMs / 4),
    },
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    routerOptions: { maxParamLength: 128 },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  acceptJsonBodiesOnly(app);
  installRequestHooks(
    app.getHttpAdapter().getInstance(),
    app.get(GatewayMetrics),
    await app.resolve(PinoLogger),
    app.get(Tracing),
  );
  setupOpenApi(app);
  // Only these two stop the gateway: Nest's default list also has SIGHUP, which reloads the policy.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  return app;
}
