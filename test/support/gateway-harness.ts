import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGatewayApp } from '../../src/bootstrap/create-gateway-app.js';
import { generateSigningKey } from '../../src/checkpoints/signing-key.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { SERVICE_ACCOUNT_ENV } from './service-account.js';

/** The upstream deadline of a harness gateway, unless the suite sets `UPSTREAM_TIMEOUT_MS`. */
export const HARNESS_UPSTREAM_TIMEOUT_MS = 2_000;

/**
 * The longest a harness gateway's answer may take when an upstream holds a call past the
 * deadline: IAM and TaurusDB each get one deadline, plus room for a stalled machine.
 */
export const PAST_THE_DEADLINE_BOUND_MS = 2 * HARNESS_UPSTREAM_TIMEOUT_MS + 5_000;

export interface Harness {
  simulator: RunningSimulator;
  app: NestFastifyApplication;
  /** The gateway's base URL. */
  url: string;
  auditPath: string;
  /** The file the gateway logs to, one JSON line per entry. */
  logFile: string;
  close(): Promise<void>;
}

let suiteCounter = 0;

/**
 * One simulator and one gateway, both on loopback ports, configured the way an operator would:
 * through environment variables. Logs go to a file that the global teardown scans for secrets.
 * Given `shared.simulator`, a second gateway (a replica) uses that one and leaves it running.
 */
export async function startHarness(
  env: Record<string, string> = {},
  shared: { simulator?: RunningSimulator } = {},
): Promise<Harness> {
  const simulator = shared.simulator ?? (await startSimulator({ port: 0 }));
  const auditPath =
    env.AUDIT_SQLITE_PATH ?? join(mkdtempSync(join(tmpdir(), 'vlg-audit-')), 'audit.sqlite');
  // The key a production start requires, beside the trail: a restart on the same trail reuses it.
  const signingKey = join(dirname(auditPath), 'audit-signing-key.pem');
  generateSigningKey(signingKey);
  const logFile = join(
    process.env.VLG_TEST_LOG_DIR ?? tmpdir(),
    `${process.pid}-${Date.now()}-${suiteCounter++}.log`,
  );
  Object.assign(process.env, {
    NODE_ENV: 'test',
    TAURUSDB_ENDPOINT: `${simulator.url}/{region}`,
    IAM_ENDPOINT: simulator.url,
    IAM_TOKEN_MODE: 'oidc',
    IAM_IDP_ID: 'test-idp',
    ...SERVICE_ACCOUNT_ENV,
    AUTH_JWKS_URL: simulator.jwksUrl,
    AUTH_ISSUER: simulator.idpIssuer,
    AUTH_AUDIENCE: simulator.audience,
    AUDIT_SQLITE_PATH: auditPath,
    // Beside the trail they sign: suites never share a checkpoint directory by accident.
    AUDIT_CHECKPOINT_DIR: join(dirname(auditPath), 'checkpoints'),
    AUDIT_SIGNING_KEY_FILE: signingKey,
    POLICY_FILE: 'config/policy.example.yaml',
    UPSTREAM_TIMEOUT_MS: String(HARNESS_UPSTREAM_TIMEOUT_MS),
    LOG_LEVEL: 'info',
    // Suites that are not about rate limits send far more than one caller's minute allows.
    RATE_LIMIT_MUTATIONS_PER_MINUTE: '100000',
    RATE_LIMIT_READS_PER_MINUTE: '100000',
    LOG_FILE: logFile,
    ...env,
  });
  const app = await createGatewayApp();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string') throw new Error('gateway has no port');
  return {
    simulator,
    app,
    url: `http://127.0.0.1:${address.port}`,
    auditPath,
    logFile: process.env.LOG_FILE ?? logFile,
    async close() {
      await app.close();
      if (!shared.simulator) await simulator.close();
    },
  };
}
