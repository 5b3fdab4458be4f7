import pg from 'pg';
import { auditConfig } from '../audit.config.js';
import { migrate } from './migrations.js';

/**
 * `npm run migrate`: applies the audit schema's pending migrations to AUDIT_DATABASE_URL, as the
 * role that owns the schema (the gateway's own role need not be able to create tables).
 */
async function run(): Promise<{ exitCode: number; output: string }> {
  let databaseUrl: string | null;
  try {
    databaseUrl = auditConfig().databaseUrl;
  } catch (configError) {
    return { exitCode: 2, output: `${(configError as Error).message}\n` };
  }
  if (databaseUrl === null) {
    return { exitCode: 2, output: 'AUDIT_DATABASE_URL is not set: nothing to migrate\n' };
  }
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    const applied = await migrate(client);
    return {
      exitCode: 0,
      output:
        applied.length > 0
          ? `audit schema migrated: ${applied.join(', ')}\n`
          : 'audit schema up to date\n',
    };
  } catch (error) {
    return { exitCode: 1, output: `audit schema not migrated: ${(error as Error).message}\n` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

const { exitCode, output } = await run();
(exitCode === 0 ? process.stdout : process.stderr).write(output);
process.exitCode = exitCode;
