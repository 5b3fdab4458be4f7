import { GatewayError, GwCode } from '../common/gateway-error.js';
import {
  UpstreamError,
  MAX_UPSTREAM_MESSAGE_CHARS,
  UpstreamUnauthorizedError,
  type UpstreamOutcome,
  mapUpstreamFailure,
} from './upstream-error.js';

const read = { mutating: false };
const write = { mutating: true };
const answered = (status: number, body?: unknown, retryAfterSeconds?: number): UpstreamOutcome => ({
  kind: 'answered',
  status,
  body,
  retryAfterSeconds,
});

describe('mapUpstreamFailure', () => {
  it('passes a 4xx error_code and error_msg through with the upstream status', () => {
    const error = mapUpstreamFailure(
      answered(400, { error_code: 'DBS.200001', error_msg: 'Invalid parameter.' }),
      write,
    );
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({
      status: 400,
      errorCode: 'DBS.200001',
      message: 'Invalid parameter.',
      upstreamStatus: 400,
      outcomeUncertain: false,
      graphqlCode: 'BAD_USER_INPUT',
    });
  });

  it('keeps the status of a 4xx without an error body but answers with a gateway code', () => {
    expect(mapUpstreamFailure(answered(404, 'not json'), read)).toMatchObject({
      status: 404,
      errorCode: GwCode.UPSTREAM_ERROR,
      message: 'TaurusDB answered 404',
    });
    expect(mapUpstreamFailure(answered(409, { error_code: 'not a code' }), read)).toMatchObject({
      status: 409,
      errorCode: GwCode.UPSTREAM_ERROR,
    });
  });

  it('caps and cleans the upstream error_msg before it reaches the caller or a row', () => {
    const huge = `forged\nline \u001b[2J${'x'.repeat(900 * 1024)}`;
    const error = mapUpstreamFailure(
      answered(400, { error_code: 'DBS.200001', error_msg: huge }),
      read,
    );
    expect(error.message.length).toBeLessThanOrEqual(MAX_UPSTREAM_MESSAGE_CHARS);
    expect(error.message.startsWith('forged\\u000aline \\u001b[2J')).toBe(true);
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    expect(error.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    const throttled = mapUpstreamFailure(
      answered(429, { error_code: 'APIGW.0308', error_msg: 'slow\r\ndown' }),
      read,
    );
    expect(throttled.message).toBe('slow\\u000d\\u000adown');
  });

  it('passes only upstream-shaped codes; a forged gateway code becomes GW.UPSTREAM_ERROR', () => {
    for (const code of [
      'GW.VALIDATION',
      'GW.POLICY_DENIED',
      'DBS.1',
      'DBS.2000011',
      'X.1',
      'dbs.200001',
    ]) {
      for (const status of [400, 403, 404, 409, 429]) {
        const error = mapUpstreamFailure(
          answered(status, { error_code: code, error_msg: 'trust me' }),
          read,
        );
        expect(error.errorCode).toBe(status === 429 ? GwCode.RATE_LIMITED : GwCode.UPSTREAM_ERROR);
        expect(error.status).toBe(status);
        expect(error.message).not.toContain('trust me');
      }
    }
    for (const code of ['DBS.200001', 'DBS.212033', 'APIGW.0308']) {
      expect(mapUpstreamFailure(answered(409, { error_code: code }), read).errorCode).toBe(code);
    }
  });

  it("answers 502 for a 4xx about the gateway's own call, which the caller must not act on", () => {
    for (const status of [405, 406, 407, 408, 411, 413, 414, 415, 417, 418, 426, 428, 431, 451]) {
      expect(
        mapUpstreamFailure(answered(status, { error_code: 'DBS.200001', error_msg: 'x' }), read),
      ).toMatchObject({ status: 502, errorCode: GwCode.UPSTREAM_ERROR, upstreamStatus: status });
    }
  });

  it('turns any 401 into UpstreamUnauthorizedError', () => {
    const error = mapUpstreamFailure(
      answered(401, { error_code: 'DBS.280001', error_msg: 'token expired' }),
      write,
    );
    expect(error).toBeInstanceOf(UpstreamUnauthorizedError);
    expect(error).toMatchObject({
      status: 502,
      errorCode: GwCode.UPSTREAM_ERROR,
      message: 'upstream refused the IAM token',
      upstreamStatus: 401,
      outcomeUncertain: false,
    });
  });

  it('answers a throttled call with 429 and the upstream Retry-After', () => {
    expect(mapUpstreamFailure(answered(429, undefined, 7), read)).toMatchObject({
      status: 429,
      errorCode: GwCode.RATE_LIMITED,
      retryAfterSeconds: 7,
    });
    expect(
      mapUpstreamFailure(
        answered(429, { error_code: 'DBS.200022', error_msg: 'slow down' }, 2),
        read,
      ),
    ).toMatchObject({ status: 429, errorCode: 'DBS.200022', retryAfterSeconds: 2 });
  });

  it('answers 502 for a 5xx, naming the upstream code', () => {
    const error = mapUpstreamFailure(
      answered(500, { error_code: 'DBS.200002', error_msg: 'internal stack trace here' }),
      write,
    );
    expect(error).toMatchObject({
      status: 502,
      errorCode: GwCode.UPSTREAM_ERROR,
      message: 'TaurusDB answered 500 (DBS.200002)',
      upstreamStatus: 500,
      outcomeUncertain: false,
    });
  });

  it('treats a PUT as uncertain when a proxy answered 502 or 504 without a TaurusDB error', () => {
    expect(mapUpstreamFailure(answered(504), write).outcomeUncertain).toBe(true);
    expect(mapUpstreamFailure(answered(502, '<html>'), write).outcomeUncertain).toBe(true);
    const apigw = (status: number, code: string) =>
      mapUpstreamFailure(
        answered(status, { error_code: code, error_msg: 'Backend timeout.' }),
        write,
      );
    expect(apigw(504, 'APIGW.0203')).toMatchObject({
      errorCode: GwCode.UPSTREAM_ERROR,
      outcomeUncertain: true,
    });
    expect(apigw(502, 'APIGW.0202').outcomeUncertain).toBe(true);
    expect(apigw(504, 'DBS.200002').outcomeUncertain).toBe(false);
    expect(mapUpstreamFailure(answered(503), write).outcomeUncertain).toBe(false);
    expect(mapUpstreamFailure(answered(504), read).outcomeUncertain).toBe(false);
  });

  it('maps the deadline to 504, uncertain for a PUT only', () => {
    expect(mapUpstreamFailure({ kind: 'timeout' }, write)).toMatchObject({
      status: 504,
      errorCode: GwCode.UPSTREAM_TIMEOUT,
      graphqlCode: 'GATEWAY_TIMEOUT',
      outcomeUncertain: true,
    });
    expect(mapUpstreamFailure({ kind: 'timeout' }, read).outcomeUncertain).toBe(false);
  });

  it('maps network failures and an open circuit to 503', () => {
    const refused = mapUpstreamFailure(
      { kind: 'unreachable', code: 'ECONNREFUSED', requestSent: false },
      write,
    );
    const reset = mapUpstreamFailure(
      { kind: 'unreachable', code: 'ECONNRESET', requestSent: true },
      write,
    );
    const open = mapUpstreamFailure({ kind: 'circuit-open' }, write);
    for (const error of [refused, reset, open]) {
      expect(error).toMatchObject({ status: 503, errorCode: GwCode.UPSTREAM_UNAVAILABLE });
    }
    expect([refused, reset, open].map((e) => e.outcomeUncertain)).toEqual([false, true, false]);
  });

  it('maps a malformed answer to 502, uncertain for a PUT', () => {
    expect(mapUpstreamFailure({ kind: 'malformed' }, write)).toMatchObject({
      status: 502,
      errorCode: GwCode.UPSTREAM_ERROR,
      outcomeUncertain: true,
    });
    expect(mapUpstreamFailure({ kind: 'malformed' }, read).outcomeUncertain).toBe(false);
  });

  it('always answers with an UpstreamError', () => {
    expect(mapUpstreamFailure({ kind: 'timeout' }, read)).toBeInstanceOf(UpstreamError);
  });
});
