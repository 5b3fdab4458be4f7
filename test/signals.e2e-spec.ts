import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, copyFileSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runVerify } from '../src/audit/verify-command.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/simulator.js';
import { freePort, startGatewayProcess, stop, type Launched } from './support/child-processes.js';
import { injectFault, lockBody, lockPath } from './support/clients.js';
import { SERVICE_ACCOUNT_ENV } from './support/service-account.js';

const { projectId, id: instanceId } = INSTANCES.financeStaging;

/** The built gateway in a child process, so that signals reach it as they do in a container. */
describe('signals', () => {
  let simulator: RunningSimulator;
  let gateway: Launched | undefined;
  let url: string;
  let token: string;
  let auditPath: string;
  let policyTarget: string;

  beforeAll(async () => {
    simulator = await startSimulator({ port: 0 });
    token = await simulator.mintToken({ sub: 'signalled-dba', groups: ['dba'] });
  });
  afterAll(() => simulator.close());
  afterEach(async () => {
    if (gateway) await stop(gateway.child, 'SIGKILL');
    gateway = undefined;
  });

  async function start(): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'vlg-signals-'));
    auditPath = join(dir, 'audit.sqlite');
    // The policy is read through a symlink whose target lives in another directory, which the
    // gateway's file watch (on the link's directory) does not see: only SIGHUP can reload it.
    const targetDir = mkdtempSync(join(tmpdir(), 'vlg-signals-policy-'));
    policyTarget = join(targetDir, 'policy.yaml');
    copyFileSync('config/policy.example.yaml', policyTarget);
    symlinkSync(policyTarget, join(dir, 'policy.yaml'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    gateway = await startGatewayProcess(url, {
      NODE_ENV: 'test',
      PORT: String(port),
      TAURUSDB_ENDPOINT: `${simulator.url}/{region}`,
      IAM_ENDPOINT: simulator.url,
      IAM_IDP_ID: 'signals-idp',
      ...SERVICE_ACCOUNT_ENV,
      AUTH_JWKS_URL: simulator.jwksUrl,
      AUTH_ISSUER: simulator.idpIssuer,
      AUTH_AUDIENCE: simulator.audience,
      AUDIT_SQLITE_PATH: auditPath,
      POLICY_FILE: join(dir, 'policy.yaml'),
      LOG_FILE: join(process.env.VLG_TEST_LOG_DIR as string, `signals-${port}.log`),
    });
  }

  it('SIGHUP reloads the policy and the gateway keeps serving', async () => {
    await start();
    appendFileSync(policyTarget, '# edited where the file watch cannot see it\n');
    gateway!.child.kill('SIGHUP');
    let applied = '';
    for (let waited = 0; waited < 5000 && !applied.includes(' 1'); waited += 100) {
      await sleep(100);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      applied = /gateway_policy_reloads_total\{result="applied"\} \d+/.exec(metrics)?.[0] ?? '';
    }
    expect(applied).toBe('gateway_policy_reloads_total{result="applied"} 1');
    expect(gateway!.child.exitCode).toBeNull();
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s answers the mutation in flight, then stops with the audit trail closed',
    async (signal) => {
      await start();
      simulator.reset();
      await injectFault({ simulator }, { route: 'taurusdb.putLock', latencyMs: 1500, times: 1 });
      const inFlight = fetch(`${url}${lockPath(projectId, instanceId)}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(lockBody('enable', 30)),
      });
      while (simulator.calls()['taurusdb.putLock'] === 0) await sleep(20);
      const stopped = stop(gateway!.child, signal);
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(await stopped).toEqual({ code: null, signal });
      expect(await runVerify({ sqlitePath: auditPath, databaseUrl: null })).toEqual({
        exitCode: 0,
        output: 'audit chain OK: 1 rows\n',
      });
    },
  );
});
