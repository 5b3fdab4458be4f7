import { readdirSync, readFileSync } from 'node:fs';
import type { ClientBase } from 'pg';

/**
 * Versioned schema changes: the numbered SQL files of `migrations/` (NNN_name.sql), applied in
 * order, each in its own transaction, and recorded in `audit_schema_migrations`. A file, once
 * released, is never edited: a change is a new file.
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/** Session advisory lock held while migrating, so that replicas starting together take turns. */
const MIGRATION_LOCK = 7_147_001;

export function migrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql: readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8'),
    }));
}

export function latestVersion(): number {
  return Math.max(0, ...migrations().map((m) => m.version));
}

/** The version the database is at: 0 when it has never been migrated. */
export async function schemaVersion(client: ClientBase): Promise<number> {
  const { rows } = await client.query<{ exists: boolean }>(
    `SELECT to_regclass('audit_schema_migrations') IS NOT NULL AS exists`,
  );
  if (!rows[0].exists) return 0;
  const applied = await client.query<{ version: number | null }>(
    'SELECT max(version) AS version FROM audit_schema_migrations',
  );
  return applied.rows[0].version ?? 0;
}

/** Applies the migrations the database lacks; returns their versions. */
export async function migrate(client: ClientBase): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    if ((await schemaVersion(client)) === 0) {
      await client.query(`CREATE TABLE IF NOT EXISTS audit_schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    }
    const current = await schemaVersion(client);
    const applied: number[] = [];
    for (const migration of migrations().filter((m) => m.version > current)) {
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO audit_schema_migrations (version, name) VALUES ($1, $2)', [
          migration.version,
          migration.name,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(
          `audit migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      applied.push(migration.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}

/** Refuses a schema older or newer than this build's migrations. */
export async function expectCurrentSchema(client: ClientBase): Promise<void> {
  const [actual, expected] = [await schemaVersion(client), latestVersion()];
  if (actual < expected) {
    throw new Error(
      `the audit schema is at version ${actual}, this gateway needs ${expected}: run npm run migrate, or start with AUDIT_MIGRATE=auto`,
    );
  }
  if (actual > expected) {
    throw new Error(
      `the audit schema is at version ${actual}, newer than this gateway's ${expected}: run the newer gateway`,
    );
  }
}
