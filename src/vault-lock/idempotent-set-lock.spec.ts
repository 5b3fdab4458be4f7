import { describe, expect, it } from '@jest/globals';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { mapUpstreamFailure } from '../taurusdb/upstream-error.js';
import { settlesSetLock } from './idempotent-set-lock.js';

const settles = (error: GatewayError) => settlesSetLock(error, error);
const put = { mutating: true };

describe('settlesSetLock: which failed PUTs are final answers under an idempotency key', () => {
  it('keeps refusals: policy, TaurusDB 4xx, IAM refusal', () => {
    expect(settles(new GatewayError(GwCode.POLICY_DENIED, 403, 'denied'))).toBe(true);
    expect(settles(new GatewayError(GwCode.IAM_REFUSED, 403, 'refused'))).toBe(true);
    expect(settles(mapUpstreamFailure({ kind: 'answered', status: 409, body: {} }, put))).toBe(
      true,
    );
  });

  it('keeps outcomes that may have applied, so the PUT is never sent again blindly', () => {
    expect(settles(mapUpstreamFailure({ kind: 'timeout' }, put))).toBe(true);
    expect(
      settles(
        mapUpstreamFailure({ kind: 'unreachable', code: 'ECONNRESET', requestSent: true }, put),
      ),
    ).toBe(true);
    expect(settles(mapUpstreamFailure({ kind: 'malformed' }, put))).toBe(true);
    expect(settles(GatewayError.internal())).toBe(true);
  });

  it('lets the key go after throttling and failures that certainly changed nothing', () => {
    expect(settles(mapUpstreamFailure({ kind: 'answered', status: 429, body: {} }, put))).toBe(
      false,
    );
    expect(settles(mapUpstreamFailure({ kind: 'circuit-open' }, put))).toBe(false);
    expect(
      settles(
        mapUpstreamFailure({ kind: 'unreachable', code: 'ECONNREFUSED', requestSent: false }, put),
      ),
    ).toBe(false);
    expect(settles(new GatewayError(GwCode.AUDIT_UNAVAILABLE, 503, 'audit'))).toBe(false);
    expect(settles(new GatewayError(GwCode.IAM_UNAVAILABLE, 503, 'iam'))).toBe(false);
  });
});
