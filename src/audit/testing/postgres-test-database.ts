import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { requireService } from '../../common/testing/require-service.js';

/**
 * Test support for the PostgreSQL suites: a database of their own on the test server, made from
 * its `postgres` maintenance database and dropped afterwards.
 */

/** The server the suites use (trust authentication, user `postgres`). */
export const TEST_POSTGRES_URL =
  process.env.VLG_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/**
 * Registers a suite that needs PostgreSQL, skipped or failed as `requireService` says when the
 * server does not answer.
 */
export async function describeWithPostgres(suite: string, register: () => void): Promise<void> {
  const reachable = await requireService(
    'PostgreSQL',
    new URL(TEST_POSTGRES_URL).host,
    async () => {
      const client = new pg.Client({
        connectionString: TEST_POSTGRES_URL,
        connectionTimeoutMillis: 3_000,
      });
      try {
        await client.connect();
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  );
  (reachable ? describe : describe.skip)(suite, register);
}

/**
 * The grants the README gives the gateway's role, taken from the README itself, so that what
 * the operator is told is what is tested.
 */
export function readmeGrants(role: string, database: string): string[] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const block = /```sql\n(-- The gateway's role[\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error("README has no sql block starting with -- The gateway's role");
  return block
    .replace(/--.*$/gm, '')
    .split(';')
    .map((statement) => statement.trim())
    .filter((statement) => statement.startsWith('GRANT'))
    .map((grant) =>
      grant.replaceAll('vlg_gateway', role).replace(/ON DATABASE \w+/, `ON DATABASE ${database}`),
    );
}

function withDatabase(url: string, database: string, user?: string): string {
  const next = new URL(url);
  next.pathname = `/${database}`;
  if (user !== undefined) {
    next.username = user;
    next.password = '';
  }
  return next.toString();
}

async function onMaintenanceDatabase(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A database created for one test (`vlg_test_<random>`) or one benchmark run (`vlg_bench_<random>`),
 * and the roles made for it.
 */
export class TestDatabase {
  private readonly roles: string[] = [];
  private owner: pg.Pool | null = null;

  private constructor(readonly name: string) {}

  static async create(namePrefix = 'vlg_test'): Promise<TestDatabase> {
    const database = new TestDatabase(`${namePrefix}_${randomBytes(6).toString('hex')}`);
    await onMaintenanceDatabase(`CREATE DATABASE ${database.name}`);
    return database;
  }

  /** Connects as the server's superuser. */
  get url(): string {
    return withDatabase(TEST_POSTGRES_URL, this.name);
  }

  /** Connects as `role` (the server trusts loopback connections). */
  urlAs(role: string): string {
    return withDatabase(TEST_POSTGRES_URL, this.name, role);
  }

  /** SQL as the superuser, on this database. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
  ): Promise<R[]> {
    if (!this.owner) {
      this.owner = new pg.Pool({ connectionString: this.url, max: 2 });
      // An idle connection cut by the server (a database dropped or closed to connections) is
      // expected here; the queries' own errors still reach their callers.
      this.owner.on('error', () => undefined);
    }
    return (await this.owner.query<R>(sql, params)).rows;
  }

  /** SQL as `role`, on a connection of its own. */
  async queryAs(role: string, sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.urlAs(role) });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  /** A login role that exists only as long as this database. */
  async createRole(): Promise<string> {
    const role = `vlg_test_role_${randomBytes(6).toString('hex')}`;
    await onMaintenanceDatabase(`CREATE ROLE ${role} LOGIN`);
    this.roles.push(role);
    return role;
  }

  /** New connections are refused and open ones cut, as when the server goes away. */
  async refuseConnections(): Promise<void> {
    await this.owner?.end();
    this.owner = null;
    await onMaintenanceDatabase(`ALTER DATABASE ${this.name} WITH ALLOW_CONNECTIONS false`);
    await onMaintenanceDatabase(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${this.name}'`,
    );
  }

  async acceptConnections(): Promise<void> {
    await onMaintenanceDatabase(`ALTER DATABASE ${this.name} WITH ALLOW_CONNECTIONS true`);
  }

  async drop(): Promise<void> {
    await this.owner?.end();
    this.owner = null;
    await onMaintenanceDatabase(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
    for (const role of this.roles.splice(0)) await onMaintenanceDatabase(`DROP ROLE ${role}`);
  }
}
