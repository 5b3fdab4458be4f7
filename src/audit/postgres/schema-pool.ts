import pg from 'pg';
import { reportConnectionLosses } from './connection-losses.js';
import { expectCurrentSchema, migrate } from './migrations.js';

export interface SchemaPoolOptions {
  databaseUrl: string;
  /** `auto` applies pending migrations first; `off` only checks that none is pending. */
  migrate: 'auto' | 'off';
  max: number;
  /** Verification reads only: every transaction read-only, and nothing migrated. */
  readonly?: boolean;
  onConnectionLost: (error: Error) => void;
}

/**
 * A pool on the gateway's PostgreSQL database whose schema is the one this build expects, for
 * the stores that share the audit trail's migrations. Nothing is left open when it fails.
 */
export async function openSchemaPool(options: SchemaPoolOptions): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.max,
    connectionTimeoutMillis: 3_000,
    statement_timeout: 10_000,
    application_name: 'vault-lock-gateway',
    options: options.readonly ? '-c default_transaction_read_only=on' : undefined,
  });
  reportConnectionLosses(pool, options.onConnectionLost);
  try {
    const client = await pool.connect();
    try {
      if (!options.readonly && options.migrate === 'auto') await migrate(client);
      await expectCurrentSchema(client);
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  return pool;
}
