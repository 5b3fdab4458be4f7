import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runVerify } from '../src/audit/verify-command.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/simulator.js';
import {
  exitOf,
  freePort,
  GATEWAY_ENTRY,
  launch,
  startGatewayProcess,
  stop,
  type Launched,
} from './support/child-processes.js';
import { injectFault, lockBody, lockPath } from './support/clients.js';
import { SERVICE_ACCOUNT_ENV } from './support/service-account.js';

const { projectId, id: instanceId } = INSTANCES.financeStaging;

const EXAMPLE_POLICY = readFileSync('config/policy.example.yaml', 'utf8');
/** The example without its four-eyes rule: nothing in it is applied later by the gateway. */
const WITHOUT_FOUR_EYES = EXAMPLE_POLICY.slice(
  0,
  EXAMPLE_POLICY.indexOf('  - id: marketing-four-eyes'),
);

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

  /** The gateway's environment; in oidc mode, with the service account unless told otherwise. */
  async function prepare({ policy = EXAMPLE_POLICY, serviceAccount = true } = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'vlg-signals-'));
    auditPath = join(dir, 'audit.sqlite');
    // The policy is read through a symlink whose target lives in another directory, which the
    // gateway's file watch (on the link's directory) does not see: only SIGHUP can reload it.
    const targetDir = mkdtempSync(join(tmpdir(), 'vlg-signals-policy-'));
    policyTarget = join(targetDir, 'policy.yaml');
    writeFileSync(policyTarget, policy);
    symlinkSync(policyTarget, join(dir, 'policy.yaml'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    return {
      NODE_ENV: 'test',
      PORT: String(port),
      TAURUSDB_ENDPOINT: `${simulator.url}/{region}`,
      IAM_ENDPOINT: simulator.url,
      IAM_IDP_ID: 'signals-idp',
      ...(serviceAccount ? SERVICE_ACCOUNT_ENV : {}),
      AUTH_JWKS_URL: simulator.jwksUrl,
      AUTH_ISSUER: simulator.idpIssuer,
      AUTH_AUDIENCE: simulator.audience,
      AUDIT_SQLITE_PATH: auditPath,
      POLICY_FILE: join(dir, 'policy.yaml'),
      LOG_FILE: join(process.env.VLG_TEST_LOG_DIR as string, `signals-${port}.log`),
    };
  }

  async function start(options: Parameters<typeof prepare>[0] = {}): Promise<void> {
    const env = await prepare(options);
    gateway = await startGatewayProcess(url, env);
  }

  /** The applied or refused reloads counted so far. */
  async function reloads(result: 'applied' | 'refused'): Promise<number> {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const counted = new RegExp(`gateway_policy_reloads_total\\{result="${result}"\\} (\\d+)`);
    return Number(counted.exec(metrics)?.[1] ?? 0);
  }

  /** Until the SIGHUP just sent has been handled, as `result`, within 5 s. */
  async function reloaded(result: 'applied' | 'refused'): Promise<void> {
    for (let waited = 0; waited < 5000 && (await reloads(result)) === 0; waited += 100) {
      await sleep(100);
    }
  }

  it('SIGHUP reloads the policy and the gateway keeps serving', async () => {
    await start();
    appendFileSync(policyTarget, '# edited where the file watch cannot see it\n');
    gateway!.child.kill('SIGHUP');
    await reloaded('applied');
    expect(await reloads('applied')).toBe(1);
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

  it('refuses to start in oidc mode without a service account a policy with approval, saying what to set', async () => {
    const { code, stderr } = await exitOf(
      launch(GATEWAY_ENTRY, await prepare({ serviceAccount: false })),
      60_000,
    );
    expect(code).toBe(1);
    expect(stderr).toContain(
      "rules[2] (marketing-four-eyes): approval and coolingOff are applied later with the gateway's service identity, " +
        'which IAM_TOKEN_MODE=oidc has only with IAM_DOMAIN_NAME, IAM_USER_NAME, IAM_PASSWORD set',
    );
  }, 90_000);

  it('refuses a SIGHUP reload to such a policy and keeps serving the one in force', async () => {
    await start({ policy: WITHOUT_FOUR_EYES, serviceAccount: false });
    writeFileSync(policyTarget, EXAMPLE_POLICY);
    gateway!.child.kill('SIGHUP');
    await reloaded('refused');
    // The file watch may see the write as well as the signal: each refuses the same way.
    expect(await reloads('refused')).toBeGreaterThanOrEqual(1);
    expect(await reloads('applied')).toBe(0);
    expect(gateway!.child.exitCode).toBeNull();
    const answer = await fetch(`${url}${lockPath(projectId, instanceId)}?dry_run=true`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(lockBody('enable', 30)),
    });
    expect(answer.status).toBe(200);
  });
});
