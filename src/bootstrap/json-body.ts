import type { Server } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { LONE_SURROGATE_RULE, pathOfLoneSurrogate } from '../common/unicode-text.js';

/**
 * JSON is the only body the gateway reads. Fastify's own JSON parser is kept (it refuses
 * `__proto__` and `constructor.prototype` keys) but its errors are replaced by one that names
 * the field; every other content type is refused with 415 instead of being parsed. A string
 * holding a lone surrogate (JSON lets `\ud800` through) is refused here for both channels,
 * naming where it is: nothing downstream could store or hash it faithfully.
 */
export function acceptJsonBodiesOnly(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  app.useBodyParser<Server>('application/json', {}, (request, body, done) => {
    parseJson(request, body.toString('utf8'), (error, value) => {
      if (error) return done(GatewayError.validation('body', 'must be valid JSON'), undefined);
      const illFormed = pathOfLoneSurrogate(value);
      if (illFormed !== undefined) {
        return done(GatewayError.validation(illFormed, LONE_SURROGATE_RULE), undefined);
      }
      done(null, value);
    });
  });
  app.useBodyParser('*', {}, (_request, _body, done) => {
    done(
      new GatewayError(GwCode.VALIDATION, 415, 'content-type: must be application/json'),
      undefined,
    );
  });
}
