import type { Server } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { LONE_SURROGATE_RULE, pathOfLoneSurrogate } from '../common/unicode-text.js';

/**
 * Far deeper than any body the gateway takes (a PUT nests 2 levels, a GraphQL request 3 or 4),
 * far shallower than what overflows the stack of the code that walks a body recursively
 * (class-transformer, validation).
 */
export const MAX_JSON_NESTING = 32;

/**
 * A JSON text decoded from UTF-8 holds a surrogate only as a `\uD800`-`\uDFFF` escape (decoding
 * turns every ill-formed byte sequence into U+FFFD), so a text without one cannot hold a lone
 * one, and its parsed value need not be walked.
 */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * JSON is the only body the gateway reads. Fastify's own JSON parser is kept (it refuses
 * `__proto__` and `constructor.prototype` keys) but its errors are replaced by one that names
 * the field; a body nested deeper than MAX_JSON_NESTING is refused before it is parsed; every
 * other content type is refused with 415 instead of being parsed. A string holding a lone
 * surrogate (JSON lets `\ud800` through) is refused here for both channels, naming where it
 * is: nothing downstream could store or hash it faithfully.
 */
export function acceptJsonBodiesOnly(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  app.useBodyParser<Server>('application/json', {}, (request, body, done) => {
    const text = body.toString('utf8');
    if (nestsDeeperThan(text, MAX_JSON_NESTING)) {
      done(
        GatewayError.validation(
          'body',
          `must not nest objects and arrays more than ${MAX_JSON_NESTING} levels deep`,
        ),
        undefined,
      );
      return;
    }
    parseJson(request, text, (error, value) => {
      if (error) return done(GatewayError.validation('body', 'must be valid JSON'), undefined);
      const illFormed = SURROGATE_ESCAPE.test(text) ? pathOfLoneSurrogate(value) : undefined;
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

const [QUOTE, BACKSLASH, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET] = [...'"\\{}[]'].map(
  (c) => c.charCodeAt(0),
);

/**
 * Whether the objects and arrays of a JSON text nest deeper than `limit`: one pass, no recursion,
 * brackets inside strings not counted. Exact for valid JSON; anything else the parser refuses.
 */
export function nestsDeeperThan(json: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i += 1) {
    const char = json.charCodeAt(i);
    if (inString) {
      if (char === BACKSLASH) i += 1;
      else if (char === QUOTE) inString = false;
    } else if (char === QUOTE) {
      inString = true;
    } else if (char === OPEN_BRACE || char === OPEN_BRACKET) {
      depth += 1;
      if (depth > limit) return true;
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
  return false;
}
