import { describe, expect, it } from '@jest/globals';
import type { RouteName } from '../src/simulator/simulator.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { lockBody, lockPath, rest } from './support/clients.js';
import { startHarness } from './support/gateway-harness.js';
import { SERVICE_ACCOUNT_ENV } from './support/service-account.js';

/**
 * The service-account modes end to end. They also put the IAM password on the wire during the
 * run, so the log scan of the global teardown has something real to look for.
 */
const modes: { mode: string; exchange: RouteName; env: Record<string, string> }[] = [
  { mode: 'password', exchange: 'iam.password', env: {} },
  {
    mode: 'agency',
    exchange: 'iam.assumeRole',
    env: { IAM_AGENCY_DOMAIN: 'sim-domain', IAM_AGENCY_NAME: 'vault-lock-agency' },
  },
];

describe.each(modes)('IAM_TOKEN_MODE=$mode', ({ mode, exchange, env }) => {
  it('locks through the service account, with one exchange shared by every caller', async () => {
    const h = await startHarness({ IAM_TOKEN_MODE: mode, ...SERVICE_ACCOUNT_ENV, ...env });
    try {
      const { projectId, id } = INSTANCES.apacProd;
      for (const sub of ['first-caller', 'second-caller']) {
        const token = await h.simulator.mintToken({ sub, groups: ['dba'] });
        const answer = await rest(h, 'PUT', `${lockPath(projectId, id)}?dry_run=true`, {
          token,
          body: lockBody('enable', 30),
        });
        expect(answer.status).toBe(200);
      }
      expect(h.simulator.calls()[exchange]).toBe(1);
      expect(h.simulator.calls()['iam.oidc']).toBe(0);
    } finally {
      await h.close();
    }
  });
});
