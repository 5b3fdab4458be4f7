import { describe, expect, it } from '@jest/globals';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { InMemoryIdempotencyStore } from './idempotency-store.js';
import { IdempotentCalls, type IdempotentRequest } from './idempotent-calls.js';

const TIMES = { leaseMs: 30_000, keepMs: 60_000 };

function setup() {
  const calls = new IdempotentCalls(
    new InMemoryIdempotencyStore(TIMES, new Clock()),
    TIMES,
    new GatewayMetrics(),
  );
  const replays: string[] = [];
  const request = (overrides: Partial<IdempotentRequest> = {}): IdempotentRequest => ({
    principalId: 'https://idp.example#alice',
    key: 'key-1',
    keyName: 'Idempotency-Key',
    requestId: 'request-1',
    fingerprint: { retentionDays: 30 },
    settles: (error) => error.status < 500,
    onReplay: () => replays.push('replayed'),
    ...overrides,
  });
  return { calls, replays, request };
}

function counting<T>(answer: () => Promise<T>) {
  const state = { runs: 0 };
  return {
    state,
    call: async () => {
      state.runs++;
      return answer();
    },
  };
}

describe('IdempotentCalls', () => {
  it('runs the first call and replays its result to the same request, saying so', async () => {
    const { calls, replays, request } = setup();
    const { state, call } = counting(async () => ({ result: 'success', auditId: 'a-1' }));

    const first = await calls.run(request(), call);
    const again = await calls.run(request({ requestId: 'request-2' }), call);

    expect(again).toEqual(first);
    expect(state.runs).toBe(1);
    expect(replays).toEqual(['replayed']);
  });

  it("keeps each caller's keys apart", async () => {
    const { calls, request } = setup();
    const { state, call } = counting(async () => 'done');

    await calls.run(request(), call);
    await calls.run(request({ principalId: 'https://idp.example#bob' }), call);

    expect(state.runs).toBe(2);
  });

  it('replays a settling error with its code, status, message, audit id and first request id', async () => {
    const { calls, request } = setup();
    const refusal = new GatewayError('DBS.200001', 400, 'parameter error', { auditId: 'a-2' });
    const { state, call } = counting(() => Promise.reject(refusal));

    await expect(calls.run(request(), call)).rejects.toBe(refusal);
    const replayed = await calls.run(request({ requestId: 'request-2' }), call).catch((e) => e);

    expect(state.runs).toBe(1);
    expect(replayed).toBeInstanceOf(GatewayError);
    expect(replayed).toMatchObject({
      errorCode: 'DBS.200001',
      status: 400,
      message: 'parameter error',
      auditId: 'a-2',
      requestId: 'request-1',
    });
  });

  it('lets the key go after an error that does not settle the request, so a retry runs', async () => {
    const { calls, replays, request } = setup();
    const unavailable = new GatewayError(GwCode.AUDIT_UNAVAILABLE, 503, 'audit unavailable');
    let fail = true;
    const { state, call } = counting(async () => {
      if (fail) throw unavailable;
      return 'done';
    });

    await expect(calls.run(request(), call)).rejects.toBe(unavailable);
    fail = false;
    expect(await calls.run(request(), call)).toBe('done');

    expect(state.runs).toBe(2);
    expect(replays).toEqual([]);
  });

  it('refuses the key for a different request with 422, naming the key as the caller did', async () => {
    const { calls, request } = setup();
    await calls.run(request(), async () => 'done');

    const refused = await calls
      .run(request({ fingerprint: { retentionDays: 31 }, keyName: 'idempotencyKey' }), () =>
        Promise.resolve('again'),
      )
      .catch((e) => e);

    expect(refused).toMatchObject({
      errorCode: GwCode.IDEMPOTENCY_KEY_REUSED,
      status: 422,
      graphqlCode: 'BAD_USER_INPUT',
    });
    expect((refused as Error).message).toMatch(/^idempotencyKey: /);
  });

  it('refuses with 409 while the first call runs, and replays once it has answered', async () => {
    const { calls, request } = setup();
    let finish: (value: string) => void = () => undefined;
    const first = calls.run(request(), () => new Promise<string>((resolve) => (finish = resolve)));
    await new Promise((resolve) => setImmediate(resolve));

    const busy = await calls.run(request(), async () => 'second').catch((e) => e);
    finish('first');

    expect(busy).toMatchObject({
      errorCode: GwCode.IDEMPOTENCY_IN_PROGRESS,
      status: 409,
      graphqlCode: 'CONFLICT',
      retryAfterSeconds: 1,
    });
    expect(await first).toBe('first');
    expect(await calls.run(request(), async () => 'third')).toBe('first');
  });
});
