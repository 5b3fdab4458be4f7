import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from '../app.module.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { setupOpenApi } from './openapi.js';
import { acceptJsonBodiesOnly } from './json-body.js';
import { installRequestHooks } from './request-hooks.js';
import { requestIdFor } from './request-id.js';

/** The contract's request size limit: far above any valid body, far below anything harmful. */
export const BODY_LIMIT_BYTES = 16 * 1024;

/** Builds the gateway as `main.ts` runs it; the end-to-end tests build it the same way. */
export async function createGatewayApp(): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: requestIdFor,
    requestIdHeader: false,
    // Slow clients are cut off instead of holding sockets.
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 72_000,
    routerOptions: { maxParamLength: 128 },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  acceptJsonBodiesOnly(app);
  installRequestHooks(app.getHttpAdapter().getInstance(), app.get(GatewayMetrics));
  setupOpenApi(app);
  app.enableShutdownHooks();
  return app;
}
