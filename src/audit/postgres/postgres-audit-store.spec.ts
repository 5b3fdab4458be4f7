import { spawn, spawnSync } from 'node:child_process';
import { jest } from '@jest/globals';
import { once } from 'node:events';
import { Clock } from '../../common/clock.js';
import { GatewayMetrics } from '../../common/gateway-metrics.js';
import { openEvent, sealRow, type ChainHead } from '../audit-chain.js';
import { AUDIT_COLUMN_TABLE, CRASHED_ERROR_CODE, type AuditEvent } from '../audit-record.js';
import { encodeRow } from '../audit-row.js';
import { AuditTrail } from '../audit-trail.js';
import { anAttempt, startTrail } from '../testing/audit-fixtures.js';
import { auditStoreContract, expectUnavailable } from '../testing/audit-store.contract.js';
import {
  describeWithPostgres,
  readmeGrants,
  TestDatabase,
} from '../testing/postgres-test-database.js';
import { runVerify } from '../verify-command.js';
import { latestVersion, migrations } from './migrations.js';
import pg from 'pg';
import { CHAIN_LOCK, PostgresAuditStore } from './postgres-audit-store.js';
import { Tracing } from '../../tracing/tracing.js';
import { until } from '../../common/testing/polling.js';

const succeeded = { outcome: 'succeeded', upstreamStatus: 200, durationMs: 41 } as const;

/** Migrates the database at `url` as its owner, whose store is closed again (no heartbeat). */
async function migrateAsOwner(url: string): Promise<void> {
  const owner = new PostgresAuditStore({
    databaseUrl: url,
    migrate: 'auto',
    replicaLeaseSeconds: 30,
  });
  await owner.open('readwrite');
  await owner.close();
}

/** A database migrated by its owner, and a role holding only the README's grants on it. */
async function migratedDatabase(): Promise<{ db: TestDatabase; gateway: string }> {
  const db = await TestDatabase.create();
  await migrateAsOwner(db.url);
  const gateway = await db.createRole();
  for (const grant of readmeGrants(gateway, db.name)) await db.query(grant);
  return { db, gateway };
}

function storeOn(url: string, replicaLeaseSeconds = 30): PostgresAuditStore {
  return new PostgresAuditStore({ databaseUrl: url, migrate: 'off', replicaLeaseSeconds });
}

await describeWithPostgres('PostgresAuditStore', () => {
  auditStoreContract('PostgresAuditStore, as a role with the README grants', async () => {
    const { db, gateway } = await migratedDatabase();
    const stores: PostgresAuditStore[] = [];
    return {
      store: () => {
        const store = storeOn(db.urlAs(gateway));
        stores.push(store);
        return store;
      },
      // The owner with triggers off (session_replication_role=replica skips user triggers).
      tamper: async (sql) => {
        await db.query(
          `SET session_replication_role = replica; ${sql}; SET session_replication_role = origin`,
        );
      },
      asGateway: (sql) => db.queryAs(gateway, sql),
      cleanup: async () => {
        await Promise.all(stores.map((store) => store.close()));
        await db.drop();
      },
    };
  });

  describe('PostgresAuditStore', () => {
    let db: TestDatabase;
    const stores: PostgresAuditStore[] = [];
    const track = (store: PostgresAuditStore) => (stores.push(store), store);

    beforeEach(async () => {
      db = await TestDatabase.create();
    });

    afterEach(async () => {
      await Promise.all(stores.splice(0).map((store) => store.close()));
      await db.drop();
    });

    describe('migrations', () => {
      it('migrates an empty database once when two replicas start on it together', async () => {
        const [a, b] = [0, 1].map(() =>
          track(
            new PostgresAuditStore({
              databaseUrl: db.url,
              migrate: 'auto',
              replicaLeaseSeconds: 30,
            }),
          ),
        );
        await Promise.all([a.open('readwrite'), b.open('readwrite')]);

        const applied = await db.query<{ version: number }>(
          'SELECT version FROM audit_schema_migrations ORDER BY version',
        );
        expect(applied.map((row) => row.version)).toEqual(
          Array.from({ length: latestVersion() }, (_, n) => n + 1),
        );
        expect(await db.query('SELECT replica_id FROM audit_replicas')).toHaveLength(2);
      });

      it('migrates with npm run migrate (the built CLI), once', () => {
        const migrateCli = (env: Record<string, string>) =>
          spawnSync(process.execPath, ['dist/audit/postgres/migrate.cli.js'], {
            env: { PATH: process.env.PATH, ...env },
            encoding: 'utf8',
          });

        expect(migrateCli({ AUDIT_DATABASE_URL: db.url })).toMatchObject({
          status: 0,
          stdout: `audit schema migrated: ${Array.from({ length: latestVersion() }, (_, n) => n + 1).join(', ')}\n`,
        });
        expect(migrateCli({ AUDIT_DATABASE_URL: db.url })).toMatchObject({
          status: 0,
          stdout: 'audit schema up to date\n',
        });
        expect(migrateCli({})).toMatchObject({
          status: 2,
          stderr: 'AUDIT_DATABASE_URL is not set: nothing to migrate\n',
        });
      });

      it('refuses to start on a database that was not migrated, with AUDIT_MIGRATE=off', async () => {
        await expect(storeOn(db.url).open('readwrite')).rejects.toThrow(
          `the audit schema is at version 0, this gateway needs ${latestVersion()}: run npm run migrate`,
        );
        expect(await db.query(`SELECT to_regclass('audit_events') AS t`)).toEqual([{ t: null }]);
      });

      it('creates every column of the audit column table with its type, plus the replica id', async () => {
        await track(
          new PostgresAuditStore({ databaseUrl: db.url, migrate: 'auto', replicaLeaseSeconds: 30 }),
        ).open('readwrite');
        const columns = await db.query<{
          column_name: string;
          data_type: string;
          is_nullable: string;
        }>(
          `SELECT column_name, data_type, is_nullable FROM information_schema.columns
           WHERE table_name = 'audit_events'`,
        );
        const sqlType = { text: 'text', integer: 'integer', boolean: 'boolean', json: 'text' };
        const expected = Object.values(AUDIT_COLUMN_TABLE).map((column) => ({
          column_name: column.name,
          data_type: column.name === 'seq' ? 'bigint' : sqlType[column.type],
          is_nullable: column.nullable || column.setBySeal ? 'YES' : 'NO',
        }));
        expected.push({ column_name: 'replica_id', data_type: 'text', is_nullable: 'YES' });
        // By name: a column added by a later migration comes last in the table, wherever it
        // stands in the column table.
        const byName = (a: { column_name: string }, b: { column_name: string }) =>
          a.column_name < b.column_name ? -1 : 1;
        expect(columns.sort(byName)).toEqual(expected.sort(byName));
      });

      it('accepts in each CHECK exactly the values the audit column table lists', async () => {
        await track(
          new PostgresAuditStore({ databaseUrl: db.url, migrate: 'auto', replicaLeaseSeconds: 30 }),
        ).open('readwrite');
        const checks = await db.query<{ name: string; definition: string }>(
          `SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
           WHERE conrelid = 'audit_events'::regclass AND contype = 'c'`,
        );
        const allowed = Object.values(AUDIT_COLUMN_TABLE)
          .filter((column) => column.oneOf)
          .map((column) => ({
            name: `audit_events_${column.name}_check`,
            values: [...(column.oneOf ?? [])].sort(),
          }));
        expect(
          allowed.map(({ name }) => ({
            name,
            values: [
              ...(checks.find((check) => check.name === name)?.definition ?? '').matchAll(
                /'([^']*)'::text/g,
              ),
            ]
              .map(([, value]) => value)
              .sort(),
          })),
        ).toEqual(allowed);
      });

      it('brings a trail written before lock requests up to date: every row kept, still verifying', async () => {
        const [first, ...later] = migrations();
        await db.query(`CREATE TABLE audit_schema_migrations (
          version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
        await db.query(first.sql);
        await db.query('INSERT INTO audit_schema_migrations (version, name) VALUES ($1, $2)', [
          first.version,
          first.name,
        ]);
        const columns = (
          await db.query<{ column_name: string }>(
            `SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_events'
             AND column_name <> 'replica_id' ORDER BY ordinal_position`,
          )
        ).map((row) => row.column_name);
        const written: AuditEvent[] = [];
        let head: ChainHead | null = null;
        for (let n = 0; n < 3; n += 1) {
          const at = new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString();
          const open = openEvent(
            anAttempt({ requestId: `before-${n}` }),
            `0190a000-0000-7000-8000-00000000000${n}`,
            at,
          );
          const sealed = sealRow(open, head, succeeded, at);
          head = { seq: sealed.seq as number, hash: sealed.hash as string };
          const stored = encodeRow(sealed, 'boolean');
          await db.query(
            `INSERT INTO audit_events (${columns.join(', ')})
             VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
            columns.map((column) => stored[column]),
          );
          written.push(sealed);
        }

        const trail = await startTrail(
          track(
            new PostgresAuditStore({
              databaseUrl: db.url,
              migrate: 'auto',
              replicaLeaseSeconds: 30,
            }),
          ),
        );

        const applied = await db.query<{ version: number }>(
          'SELECT version FROM audit_schema_migrations ORDER BY version',
        );
        expect(applied.map((row) => row.version)).toEqual([
          first.version,
          ...later.map((m) => m.version),
        ]);
        expect((await trail.list({}, 10)).events).toEqual([...written].reverse());
        const lockRequestId = '019ad1e2-7c3b-7a10-8f2e-5b6c7d8e9f01';
        await trail.recordSealed(
          anAttempt({ action: 'approve', channel: 'scheduler', lockRequestId }),
          succeeded,
        );
        expect((await trail.list({ lockRequestId }, 10)).events).toHaveLength(1);
        expect(await trail.verify()).toEqual({ ok: true, rows: 4 });
      });
    });

    describe('a role with the README grants', () => {
      let gateway: string;

      beforeEach(async () => {
        await db.drop();
        ({ db, gateway } = await migratedDatabase());
        const trail = await startTrail(track(storeOn(db.urlAs(gateway))));
        await trail.recordSealed(anAttempt(), succeeded);
        await trail.recordAttempt(anAttempt({ requestId: 'still-open' }));
      });

      it('cannot delete, truncate or rewrite a sealed row, nor change what an open row records', async () => {
        const as = (sql: string) => db.queryAs(gateway, sql);
        await expect(as('DELETE FROM audit_events')).rejects.toThrow(
          'permission denied for table audit_events',
        );
        await expect(as('TRUNCATE audit_events')).rejects.toThrow(
          'permission denied for table audit_events',
        );
        await expect(
          as("UPDATE audit_events SET outcome = 'failed' WHERE seq = 1"),
        ).rejects.toThrow('sealed audit rows cannot be changed');
        await expect(
          as("UPDATE audit_events SET hash = repeat('0', 64) WHERE seq = 1"),
        ).rejects.toThrow('sealed audit rows cannot be changed');
        for (const column of ['principal_sub', 'lock_request_id', 'settles_audit_id']) {
          await expect(
            as(`UPDATE audit_events SET ${column} = 'mallory' WHERE seq IS NULL`),
          ).rejects.toThrow('permission denied for table audit_events');
        }
        await expect(as('INSERT INTO audit_replicas SELECT * FROM audit_replicas')).rejects.toThrow(
          /duplicate key/,
        );
        await expect(as('DROP TABLE audit_events')).rejects.toThrow(/must be owner/);
        const rows = await db.query('SELECT seq, outcome FROM audit_events ORDER BY seq');
        expect(rows).toEqual([
          { seq: '1', outcome: 'succeeded' },
          { seq: null, outcome: null },
        ]);
      });

      it('leaves even the owner unable to delete or rewrite a row while the trigger stands', async () => {
        await expect(db.query('DELETE FROM audit_events WHERE seq IS NULL')).rejects.toThrow(
          'audit rows cannot be deleted',
        );
        await expect(db.query('TRUNCATE audit_events')).rejects.toThrow(
          'audit rows cannot be deleted',
        );
        await expect(
          db.query("UPDATE audit_events SET request_id = 'x' WHERE seq = 1"),
        ).rejects.toThrow('sealed audit rows cannot be changed');
        for (const column of ['request_id', 'lock_request_id', 'settles_audit_id']) {
          await expect(
            db.query(`UPDATE audit_events SET ${column} = 'x' WHERE seq IS NULL`),
          ).rejects.toThrow('only sealing may change an open audit row');
        }
      });
    });

    describe('replicas', () => {
      beforeEach(async () => {
        const owner = track(
          new PostgresAuditStore({ databaseUrl: db.url, migrate: 'auto', replicaLeaseSeconds: 30 }),
        );
        await owner.open('readwrite');
      });

      /** A replica in a process of its own that writes one open attempt, then is SIGKILLed. */
      async function killedReplicaWithOpenRow(
        leaseSeconds: number,
      ): Promise<{ id: string; replicaId: string }> {
        const script = `
          const { PostgresAuditStore } = await import(${JSON.stringify(new URL('../../../dist/audit/postgres/postgres-audit-store.js', import.meta.url).href)});
          const store = new PostgresAuditStore({ databaseUrl: process.env.URL, migrate: 'off', replicaLeaseSeconds: ${leaseSeconds} });
          await store.open('readwrite');
          const id = await store.recordAttempt(JSON.parse(process.env.ATTEMPT), new Date().toISOString());
          process.stdout.write('OPEN ' + JSON.stringify({ id, replicaId: store.replicaId }) + '\\n');
          setInterval(() => undefined, 1000);`;
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
          env: {
            PATH: process.env.PATH,
            URL: db.url,
            ATTEMPT: JSON.stringify(anAttempt({ requestId: 'killed' })),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let output = '';
        const opened = await new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (chunk: Buffer) => {
            output += chunk.toString();
            const line = /OPEN (\{.*\})/.exec(output)?.[1];
            if (line) resolve(line);
          });
          child.once('exit', (code) => reject(new Error(`replica exited with ${code}: ${output}`)));
        });
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
        return JSON.parse(opened) as { id: string; replicaId: string };
      }

      const leaseLive = async (replicaId: string) =>
        (
          await db.query<{ live: boolean }>(
            'SELECT lease_until > now() AS live FROM audit_replicas WHERE replica_id = $1',
            [replicaId],
          )
        )[0]?.live;

      it('leaves the open row of a killed replica alone while its lease lives, then a survivor closes it as unknown', async () => {
        const killed = await killedReplicaWithOpenRow(6);
        const survivorStore = track(storeOn(db.url, 1));
        const survivor = await startTrail(survivorStore);

        // Its start-up reconcile ran while the killed replica's lease was still live.
        expect(await leaseLive(killed.replicaId)).toBe(true);
        const [open] = (await survivor.list({}, 10)).events;
        expect(open).toMatchObject({ id: killed.id, seq: null, outcome: null });

        // The survivor's own periodic reconcile closes it once the lease has run out.
        const deadline = Date.now() + 20_000;
        let row = open;
        while (row.seq === null && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          [row] = (await survivor.list({}, 10)).events;
        }
        expect(row).toMatchObject({
          id: killed.id,
          seq: 1,
          outcome: 'unknown',
          errorCode: CRASHED_ERROR_CODE,
        });
        expect(await leaseLive(killed.replicaId)).toBeUndefined();
        expect(await survivor.verify()).toEqual({ ok: true, rows: 1 });
      }, 40_000);

      it('serialises seals in the database: a seal waits while another transaction holds the chain lock', async () => {
        const trail = await startTrail(track(storeOn(db.url)));
        const replica = await startTrail(track(storeOn(db.url)));
        const other = new pg.Client({ connectionString: db.url });
        await other.connect();
        try {
          await other.query('BEGIN');
          await other.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
          let sealed = false;
          const sealing = trail.recordSealed(anAttempt(), succeeded).then(() => {
            sealed = true;
          });
          const waiting = () =>
            db.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
          while ((await waiting()).length === 0) await new Promise((r) => setTimeout(r, 20));
          // An open attempt takes no chain lock: another replica writes one while the seal waits.
          await replica.recordAttempt(anAttempt());
          expect(sealed).toBe(false);

          await other.query('COMMIT');
          await sealing;
          expect(await trail.verify()).toEqual({ ok: true, rows: 1 });
        } finally {
          await other.end();
        }
      });

      it('leaves a replica the rows it opens after its lease ran out (an outage longer than the lease)', async () => {
        const [a, b] = [track(storeOn(db.url, 1)), track(storeOn(db.url, 1))];
        const trailA = await startTrail(a);
        const trailB = await startTrail(b);
        // As if PostgreSQL had been unreachable for longer than A's lease.
        await db.query(`UPDATE audit_replicas SET lease_until = now() - interval '1 minute'`);
        const id = await trailA.recordAttempt(anAttempt());

        expect(await trailB.reconcileOpenAttempts()).toBe(0);
        expect(await trailA.reconcileOpenAttempts()).toBe(0);
        await trailA.complete(id, succeeded);
        expect((await trailB.list({}, 1)).events[0]).toMatchObject({ id, outcome: 'succeeded' });
      });

      it('never closes the open rows of another live replica', async () => {
        // A's lease is long enough that a heartbeat delayed by a busy machine still renews it in
        // time. B's reconcile runs once a lease, so with the default one only the explicit
        // reconcile below runs during the test.
        const [a, b] = [track(storeOn(db.url, 5)), track(storeOn(db.url))];
        const trailA = await startTrail(a);
        const trailB = await startTrail(b);
        const id = await trailA.recordAttempt(anAttempt());
        // As text: a Date would drop the microseconds, and end the wait just short of the lease.
        const [{ lease_until: openedUnder }] = await db.query<{ lease_until: string }>(
          'SELECT lease_until::text FROM audit_replicas WHERE replica_id = $1',
          [a.replicaId],
        );

        // Past the lease A opened the row under: only its heartbeat keeps the row its own.
        await until("PostgreSQL's clock past A's first lease", async () => {
          const [{ past }] = await db.query<{ past: boolean }>('SELECT now() > $1 AS past', [
            openedUnder,
          ]);
          return past || undefined;
        });
        expect(await trailB.reconcileOpenAttempts()).toBe(0);
        await trailA.complete(id, succeeded);
        expect((await trailB.list({}, 1)).events[0]).toMatchObject({
          id,
          seq: 1,
          outcome: 'succeeded',
        });
      });
    });

    describe('sealing in one round trip', () => {
      // No heartbeat of the owner's is counted among the round trips.
      beforeEach(() => migrateAsOwner(db.url));

      /** The queries every pg client sends while `act` runs: one per round trip. */
      async function roundTrips(act: () => Promise<unknown>): Promise<string[]> {
        const query = jest.spyOn(pg.Client.prototype, 'query');
        try {
          await act();
          return query.mock.calls.map(([text]) => String(text));
        } finally {
          query.mockRestore();
        }
      }

      const openStore = async () => {
        const store = track(storeOn(db.url));
        await store.open('readwrite');
        return store;
      };
      const now = () => new Date().toISOString();
      const sealedRow = async (store: PostgresAuditStore) => {
        const id = await store.recordAttempt(anAttempt(), now());
        return { id, seal: () => store.complete(id, succeeded, now()) };
      };
      /**
       * A store whose two seals so far showed it the chain's only writer: the first learnt the
       * head, the second that nobody else moved it. Its next seal goes whole.
       */
      const soleWriterStore = async () => {
        const store = await openStore();
        for (let n = 0; n < 2; n += 1) await (await sealedRow(store)).seal();
        return store;
      };
      const seqOf = async (id: string) =>
        (await db.query<{ seq: string }>('SELECT seq FROM audit_events WHERE id = $1', [id]))[0]
          .seq;

      it("sends a seal whole once the replica has seen it is the chain's only writer", async () => {
        const store = await soleWriterStore();

        const { seal } = await sealedRow(store);
        const sent = await roundTrips(seal);

        expect(sent).toHaveLength(1);
        expect(sent[0]).toContain(`pg_advisory_xact_lock(${CHAIN_LOCK})`);
        expect(sent[0]).toContain('audit_assume');
        expect(sent[0]).toMatch(/COMMIT$/);
        expect(await store.verify()).toEqual({ ok: true, rows: 3 });
      });

      it('hashes a row as recorded exactly as the verifier reads it back from the database', async () => {
        const store = await soleWriterStore();
        const awkward = `it's "quoted", back\\slash\\, 𝄞 non-BMP, ü, \t tab, $$ dollars`;
        const id = await store.recordAttempt(
          anAttempt({
            correlationId: awkward,
            principalSub: awkward,
            decisionReasons: [awkward, '', 'null'],
            decisionRule: null,
            retentionDays: null,
            lockRequestId: '0b9b4e4e-7f5c-4a1e-9a53-6a7f2f0e3c11',
            settlesAuditId: '01a22c2d-7400-73b9-81a8-53b190042365',
            traceId: '0123456789abcdef0123456789abcdef',
          }),
          now(),
        );

        const sent = await roundTrips(() => store.complete(id, succeeded, now()));

        expect(sent).toHaveLength(1);
        expect(await store.verify()).toEqual({ ok: true, rows: 3 });
      });

      it('rolls back and seals on the head read under the lock when another replica moved it', async () => {
        const store = await soleWriterStore();
        const other = await openStore();
        const { id, seal } = await sealedRow(store);
        await other.recordSealed(anAttempt(), succeeded, now());

        const sent = await roundTrips(seal);

        expect(sent.map((text) => text.split('\n')[0].slice(0, 40))).toEqual([
          expect.stringContaining('BEGIN'),
          'ROLLBACK',
          expect.stringContaining('BEGIN'),
          expect.any(String),
        ]);
        expect(await seqOf(id)).toBe('4');
        expect(await store.verify()).toEqual({ ok: true, rows: 4 });
        // Having seen another writer, the next seal reads the head first.
        expect(await roundTrips((await sealedRow(store)).seal)).toHaveLength(2);
      });

      it('checks that every row it seals is still open, not only the head', async () => {
        const store = await soleWriterStore();
        const { id, seal } = await sealedRow(store);
        // Closed behind the gateway's back, off the chain, so that the head stays where it was.
        await db.query(`SET session_replication_role = replica;
          UPDATE audit_events SET seq = -1, hash = 'x', outcome = 'unknown' WHERE id = '${id}';
          SET session_replication_role = origin`);

        const sent = await roundTrips(() =>
          expect(seal()).rejects.toThrow(`audit row ${id} is not an open attempt`),
        );

        expect(sent).toContain('ROLLBACK');
        expect(await db.query('SELECT seq FROM audit_events ORDER BY seq')).toEqual([
          { seq: '-1' },
          { seq: '1' },
          { seq: '2' },
        ]);
      });

      it('seals, on its own reconcile, a row of its own whose seal failed with the outcome that seal carried, and none it still holds', async () => {
        const store = await openStore();
        const held = await store.recordAttempt(anAttempt(), now());
        const lost = await store.recordAttempt(anAttempt(), now());
        // The seal's connection breaks before its transaction begins.
        const query = jest.spyOn(pg.Client.prototype, 'query');
        query.mockImplementationOnce(() => Promise.reject(new Error('Connection terminated')));
        try {
          await expect(store.complete(lost, succeeded, now())).rejects.toThrow(
            'Connection terminated',
          );
        } finally {
          query.mockRestore();
        }

        expect(await store.reconcileOpenAttempts(now())).toBe(1);
        const outcomes = await db.query<{ id: string; outcome: string | null; error_code: string }>(
          'SELECT id, outcome, error_code FROM audit_events ORDER BY id',
        );
        expect(outcomes).toEqual([
          { id: held, outcome: null, error_code: null },
          { id: lost, outcome: 'succeeded', error_code: null },
        ]);
        await store.complete(held, succeeded, now());
        expect(await store.verify()).toEqual({ ok: true, rows: 2 });
      });

      it('seals as failed, on its own reconcile, an attempt committed whose answer was lost: its caller was refused and sent nothing', async () => {
        const store = await openStore();
        loseNextAnswer();
        await expect(store.recordAttempt(anAttempt(), now())).rejects.toThrow(
          'Connection terminated',
        );
        const [open] = await db.query<{ id: string; outcome: string | null }>(
          'SELECT id, outcome FROM audit_events',
        );
        expect(open.outcome).toBeNull();

        expect(await store.reconcileOpenAttempts(now())).toBe(1);
        expect(
          await db.query('SELECT outcome, error_code, upstream_status FROM audit_events'),
        ).toEqual([
          { outcome: 'failed', error_code: 'GW.AUDIT_UNAVAILABLE', upstream_status: null },
        ]);
        expect(await store.verify()).toEqual({ ok: true, rows: 1 });
      });

      /** The next query any pg client sends reaches the server and is answered, but its caller hears the connection broke. */
      function loseNextAnswer(): void {
        const original = pg.Client.prototype.query as (...args: unknown[]) => Promise<unknown>;
        const query = jest.spyOn(pg.Client.prototype, 'query');
        query.mockImplementationOnce(function (this: pg.Client, ...args: unknown[]) {
          query.mockRestore();
          const lost = new Error('Connection terminated unexpectedly');
          const last = args.length - 1;
          const callback = args[last];
          if (typeof callback === 'function') {
            args[last] = () => (callback as (error: Error) => void)(lost);
            return original.apply(this, args);
          }
          return original.apply(this, args).then(() => {
            throw lost;
          });
        } as never);
      }

      /**
       * Holds the next query any pg client sends until `release` is called, `before` it goes to
       * the server or `after` the server has answered it. `reached` resolves once it is held.
       */
      function holdNextQuery(when: 'before' | 'after') {
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        let held!: () => void;
        const reached = new Promise<void>((resolve) => (held = resolve));
        const original = pg.Client.prototype.query as (...args: unknown[]) => Promise<unknown>;
        const query = jest.spyOn(pg.Client.prototype, 'query');
        query.mockImplementationOnce(function (this: pg.Client, ...args: unknown[]) {
          query.mockRestore();
          if (when === 'before') {
            held();
            return released.then(() => original.apply(this, args));
          }
          // The pool passes a callback; a client asked directly answers with a promise.
          const last = args.length - 1;
          const callback = args[last];
          if (typeof callback === 'function') {
            args[last] = (...answer: unknown[]) => {
              held();
              void released.then(() => (callback as (...a: unknown[]) => void)(...answer));
            };
            return original.apply(this, args);
          }
          return original.apply(this, args).then(async (result) => {
            held();
            await released;
            return result;
          });
        } as never);
        return { reached, release };
      }

      it('never closes a row of its own whose attempt is committed but not yet answered', async () => {
        const store = await openStore();
        const hold = holdNextQuery('after');
        const recording = store.recordAttempt(anAttempt(), now());
        await hold.reached;

        expect(await store.reconcileOpenAttempts(now())).toBe(0);
        hold.release();
        const id = await recording;
        await store.complete(id, succeeded, now());
        expect(await store.verify()).toEqual({ ok: true, rows: 1 });
      });

      it('never closes a row of its own whose seal is asked for but not yet sent', async () => {
        const store = await openStore();
        const id = await store.recordAttempt(anAttempt(), now());
        const hold = holdNextQuery('before');
        const sealing = store.complete(id, succeeded, now());
        await hold.reached;

        expect(await store.reconcileOpenAttempts(now())).toBe(0);
        hold.release();
        await sealing;
        expect(await seqOf(id)).toBe('1');
        expect(await store.verify()).toEqual({ ok: true, rows: 1 });
      });

      it('refuses, and writes nothing, when a row it recorded was closed by another replica', async () => {
        const store = await soleWriterStore();
        const survivor = await openStore();
        const { id, seal } = await sealedRow(store);
        // As if this replica had been cut off for longer than its lease.
        await db.query(
          `UPDATE audit_replicas SET lease_until = now() - interval '1 minute' WHERE replica_id = $1`,
          [store.replicaId],
        );
        expect(await survivor.reconcileOpenAttempts(now())).toBe(1);

        await expect(seal()).rejects.toThrow(`audit row ${id} is not an open attempt`);
        expect(await seqOf(id)).toBe('3');
        expect(await store.verify()).toEqual({ ok: true, rows: 3 });
      });
    });

    describe('when PostgreSQL goes away', () => {
      it('answers 503 GW.AUDIT_UNAVAILABLE, and recovers without a restart once it is back', async () => {
        const store = track(
          new PostgresAuditStore({ databaseUrl: db.url, migrate: 'auto', replicaLeaseSeconds: 30 }),
        );
        const trail = new AuditTrail(store, new Clock(), new GatewayMetrics(), new Tracing());
        await trail.onModuleInit();

        await db.refuseConnections();
        await expectUnavailable(trail.recordAttempt(anAttempt()));
        await expectUnavailable(trail.recordSealed(anAttempt(), succeeded));
        await expectUnavailable(trail.checkWritable());
        expect(trail.isAlive()).toBe(true);

        await db.acceptConnections();
        await trail.recordSealed(anAttempt(), succeeded);
        await expect(trail.checkWritable()).resolves.toBeUndefined();
        expect(await trail.verify()).toEqual({ ok: true, rows: 1 });
      });
    });

    describe('npm run audit:verify', () => {
      it('verifies the chain in PostgreSQL, names a changed row, and never prints the password', async () => {
        const trail = await startTrail(
          track(
            new PostgresAuditStore({
              databaseUrl: db.url,
              migrate: 'auto',
              replicaLeaseSeconds: 30,
            }),
          ),
        );
        const ids: string[] = [];
        for (let n = 0; n < 3; n += 1) ids.push(await trail.recordSealed(anAttempt(), succeeded));
        await trail.recordAttempt(anAttempt({ requestId: 'open' }));
        const withPassword = db.url.replace('postgres@', 'postgres:s3cret-pw@');
        const verify = (databaseUrl: string) =>
          runVerify({ sqlitePath: '/nonexistent', databaseUrl });

        expect(await verify(withPassword)).toEqual({
          exitCode: 0,
          output: 'audit chain OK: 3 rows\n',
        });
        expect(
          await db.query('SELECT count(*)::int AS open FROM audit_events WHERE seq IS NULL'),
        ).toEqual([{ open: 1 }]);

        await db.query(
          "SET session_replication_role = replica; UPDATE audit_events SET principal_sub = 'mallory' WHERE seq = 2",
        );
        expect(await verify(withPassword)).toEqual({
          exitCode: 1,
          output: `audit chain BROKEN at seq 2 (id ${ids[1]}): hash does not match the row contents\n`,
        });

        const missing = await verify(withPassword.replace(db.name, 'vlg_no_such_database'));
        expect(missing.exitCode).toBe(2);
        expect(missing.output).toContain(
          'audit chain not verified: postgresql://127.0.0.1:5432/vlg_no_such_database',
        );
        expect(missing.output).not.toContain('s3cret-pw');
      });
    });
  });
});
