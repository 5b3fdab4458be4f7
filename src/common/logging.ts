import type { Params } from 'nestjs-pino';
import pino from 'pino';
import type { AppConfig } from '../config/app.config.js';

/**
 * Anything that may hold a credential is censored by path, so a careless log call cannot leak
 * one. Request logs carry method, route and id only: query strings and bodies stay out.
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

export function loggerParams(config: AppConfig): Params {
  const destination = config.logFile
    ? pino.destination({ dest: config.logFile, sync: true, mkdir: true })
    : undefined;
  return {
    pinoHttp: {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      stream: destination,
      serializers: {
        req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          path: req.url.split('?')[0],
          remoteAddress: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customLogLevel: (_req, res, error) =>
        error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    },
  };
}
