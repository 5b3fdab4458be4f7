import { expect } from '@jest/globals';
import { lockBody, lockPath, rest } from './clients.js';
import type { Harness } from './gateway-harness.js';

// Kept apart from clients.ts, which the benchmark imports outside jest, where @jest/globals fails.

/** A PUT while the audit trail cannot be written: 503 GW.AUDIT_UNAVAILABLE, and no PUT upstream. */
export async function expectPutRefusedUnaudited(
  harness: Harness,
  token: string,
  instance: { projectId: string; id: string },
): Promise<void> {
  const answer = await rest(harness, 'PUT', lockPath(instance.projectId, instance.id), {
    token,
    body: lockBody('enable', 5),
  });
  expect(answer.status).toBe(503);
  expect(answer.body.error_code).toBe('GW.AUDIT_UNAVAILABLE');
  expect(harness.simulator.calls()['taurusdb.putLock']).toBe(0);
}
