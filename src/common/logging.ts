import type { Params } from 'nestjs-pino';
import pino from 'pino';
import type { AppConfig } from '../config/app.config.js';
import { currentTraceIds } from '../tracing/tracing.js';

/**
 * Anything that may hold a credential is censored by path, so a careless log call cannot leak
 * one. Access lines carry method, route, path and ids only: query strings and bodies stay out.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-auth-token"]',
  'req.headers["x-subject-token"]',
  'res.headers["x-subject-token"]',
  '*.authorization',
  '*.password',
  '*.token',
  '*.id_token',
  '*["x-auth-token"]',
  '*["X-Auth-Token"]',
  '*["x-subject-token"]',
];

/**
 * nestjs-pino supplies the logger and the request-scoped context its `Logger` reads; its HTTP
 * middleware is not mounted (`forRoutes: []`). Mounted through Nest's Fastify middleware it ran
 * only for some paths, and before the body is read, which ends the context it binds. The
 * gateway's Fastify hooks (`request-hooks.ts`) bind the context and write the one access line
 * per request instead, for every request Fastify answers. Every line written inside a traced
 * call carries its `traceId` and `spanId`.
 */
export function loggerParams(config: AppConfig): Params {
  const destination = config.logFile
    ? pino.destination({ dest: config.logFile, sync: true, mkdir: true })
    : undefined;
  return {
    pinoHttp: {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      stream: destination,
      // A new object every time: pino merges the line's own fields into what the mixin returns.
      mixin: () => currentTraceIds() ?? {},
    },
    forRoutes: [],
  };
}
