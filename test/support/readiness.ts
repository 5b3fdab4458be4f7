import { until } from '../../src/common/testing/polling.js';

/**
 * Until the gateway at `baseUrl` says in readiness that Redis is up: before that it keeps tokens,
 * keys and counters in its own memory, not shared with other gateways.
 */
export async function untilRedisUp(baseUrl: string): Promise<void> {
  await until(`${baseUrl} to report Redis up in /health/ready`, async () => {
    const ready = await fetch(`${baseUrl}/health/ready`).catch(() => undefined);
    if (ready?.status !== 200) return undefined;
    const body = (await ready.json()) as { status: string; info?: { redis?: { status: string } } };
    return body.status === 'ok' && body.info?.redis?.status === 'up' ? true : undefined;
  });
}
