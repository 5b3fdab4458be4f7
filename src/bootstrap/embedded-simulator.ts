import type { RunningSimulator } from '../simulator/simulator.js';

/**
 * With no TaurusDB endpoint configured the gateway runs against the simulator in-process, so a
 * newcomer can try it with nothing else installed. Production refuses: a gateway that sets
 * irreversible locks must never fall back to a fake upstream silently. The simulator is imported
 * only here, when it is started, because the production image does not contain it.
 */
export async function startEmbeddedSimulatorIfUnconfigured(
  env: NodeJS.ProcessEnv,
): Promise<RunningSimulator | undefined> {
  if (env.TAURUSDB_ENDPOINT) return undefined;
  if (env.NODE_ENV === 'production') {
    throw new Error(
      'TAURUSDB_ENDPOINT is not set: the embedded simulator is refused when NODE_ENV=production',
    );
  }
  const { startSimulator, SERVICE_ACCOUNT } = await import('../simulator/simulator.js');
  const simulator = await startSimulator({ port: Number(env.SIMULATOR_PORT ?? 0) });
  env.TAURUSDB_ENDPOINT = `${simulator.url}/{region}`;
  env.IAM_ENDPOINT ??= simulator.url;
  env.IAM_IDP_ID ??= 'simulator-idp';
  // The identity that applies approved lock requests, which the example policy has.
  env.IAM_DOMAIN_NAME ??= SERVICE_ACCOUNT.domainName;
  env.IAM_USER_NAME ??= SERVICE_ACCOUNT.userName;
  env.IAM_PASSWORD ??= SERVICE_ACCOUNT.password;
  env.AUTH_JWKS_URL ??= simulator.jwksUrl;
  env.AUTH_ISSUER ??= simulator.idpIssuer;
  env.AUTH_AUDIENCE ??= simulator.audience;
  return simulator;
}

/** Said loudly, with a token and commands that work as printed. */
export async function developmentBanner(
  simulator: RunningSimulator,
  port: number,
): Promise<string> {
  const { INSTANCES } = await import('../simulator/fixtures.js');
  const token = await simulator.mintToken({ sub: 'dev-dba', expiresInSeconds: 12 * 3600 });
  const { projectId, id: instanceId } = INSTANCES.financeProd;
  const base = `http://127.0.0.1:${port}`;
  const mutation = JSON.stringify({
    query:
      'mutation($input: SetBackupVaultLockInput!) { setBackupVaultLock(input: $input) { result requestId auditId decision { allowed ruleId reasons policyVersion } } }',
    variables: {
      input: { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 30, dryRun: true },
    },
  });
  const line = '='.repeat(78);
  return [
    line,
    ' DEVELOPMENT MODE: no TAURUSDB_ENDPOINT configured, so the gateway is talking to the',
    ` EMBEDDED SIMULATOR at ${simulator.url} (fake IAM, TaurusDB and identity provider).`,
    ' Never use this mode for real locks. Set TAURUSDB_ENDPOINT to reach Huawei Cloud.',
    line,
    '',
    'Development token (user dev-dba, groups dba and auditor, valid 12 h):',
    '',
    `export TOKEN='${token}'`,
    '',
    'REST (dry run; drop ?dry_run=true to really enable the lock on the simulator):',
    '',
    `curl -s -X PUT '${base}/v3/${projectId}/instances/${instanceId}/backups/vault-lock?dry_run=true' \\`,
    `  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
    `  -d '{"backup_vaultlock_info":{"lock_retention_days":30,"lock_policy":true},"action":"enable"}'`,
    '',
    'GraphQL (dry run):',
    '',
    `curl -s -X POST '${base}/graphql' \\`,
    `  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
    `  -d '${mutation}'`,
    '',
    `Docs: ${base}/docs   Health: ${base}/health/ready   Metrics: ${base}/metrics`,
    line,
  ].join('\n');
}
