import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTRACT_FILES, formatOpenApiContract, printGraphqlContract } from './contracts.js';
import { createGatewayApp } from './create-gateway-app.js';
import { startEmbeddedSimulatorIfUnconfigured } from './embedded-simulator.js';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Builds the gateway as `npm start` does (against the embedded simulator unless an upstream is
 * configured), without listening, and writes what it serves. Its audit store is a throwaway
 * one: opening an operator's store would seal the rows a running gateway holds open.
 */
async function writeContracts(): Promise<void> {
  const auditDir = mkdtempSync(join(tmpdir(), 'vlg-contracts-'));
  process.env.AUDIT_SQLITE_PATH = join(auditDir, 'audit.sqlite');
  process.env.AUDIT_CHECKPOINT_DIR = join(auditDir, 'checkpoints');
  process.env.LOG_LEVEL ??= 'warn';
  const simulator = await startEmbeddedSimulatorIfUnconfigured(process.env);
  try {
    const app = await createGatewayApp();
    try {
      await app.init();
      const openapi = await app
        .getHttpAdapter()
        .getInstance()
        .inject({ method: 'GET', url: '/openapi.json' });
      if (openapi.statusCode !== 200) {
        throw new Error(`GET /openapi.json answered ${openapi.statusCode}`);
      }
      writeFileSync(
        join(repositoryRoot, CONTRACT_FILES.openapi),
        formatOpenApiContract(openapi.body),
      );
      writeFileSync(join(repositoryRoot, CONTRACT_FILES.graphql), printGraphqlContract(app));
    } finally {
      await app.close();
    }
  } finally {
    await simulator?.close();
    rmSync(auditDir, { recursive: true, force: true });
  }
  process.stdout.write(`wrote ${CONTRACT_FILES.graphql} and ${CONTRACT_FILES.openapi}\n`);
}

writeContracts().catch((error: unknown) => {
  console.error(`contracts: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
