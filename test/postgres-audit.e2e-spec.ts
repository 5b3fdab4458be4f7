import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describeWithPostgres, TestDatabase } from '../src/audit/testing/postgres-test-database.js';
import { runVerify } from '../src/audit/verify-command.js';
import { until } from '../src/common/testing/polling.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { freePort, GATEWAY_ENTRY } from './support/child-processes.js';
import { injectFault, lockBody, lockPath, rest } from './support/clients.js';
import { expectPutRefusedUnaudited } from './support/expectations.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const { projectId, id: instanceId } = INSTANCES.financeStaging;

/** Each wait of a test gives up well inside the test's timeout, naming what never came. */
const STEP_LIMIT_MS = 15_000;

interface AuditRow {
  id: string;
  seq: string | null;
  outcome: string | null;
  error_code: string | null;
  replica_id: string;
}

await describeWithPostgres('audit trail in PostgreSQL (AUDIT_DATABASE_URL)', () => {
  describe('audit trail in PostgreSQL (AUDIT_DATABASE_URL)', () => {
    let db: TestDatabase;
    let h: Harness;
    let token: string;

    const rows = () =>
      db.query<AuditRow>(
        'SELECT id, seq, outcome, error_code, replica_id FROM audit_events ORDER BY id',
      );

    beforeAll(async () => {
      db = await TestDatabase.create();
      h = await startHarness({ AUDIT_DATABASE_URL: db.url });
      token = await h.simulator.mintToken({ sub: 'pg-dba', groups: ['dba', 'auditor'] });
    });

    afterAll(async () => {
      await h.close();
      await db.drop();
    });

    it('writes the mutation to PostgreSQL, not SQLite, and the chain verifies there, from the CLI too', async () => {
      const answer = await rest(h, 'PUT', lockPath(projectId, instanceId), {
        token,
        body: lockBody('enable', 7),
      });
      expect(answer.status).toBe(200);
      const auditId = answer.headers.get('x-audit-id');

      expect(await rows()).toEqual([
        expect.objectContaining({ id: auditId, seq: '1', outcome: 'succeeded', error_code: null }),
      ]);
      expect(existsSync(h.auditPath)).toBe(false);
      expect(await runVerify({ sqlitePath: h.auditPath, databaseUrl: db.url })).toEqual({
        exitCode: 0,
        output: 'audit chain OK: 1 rows\n',
      });
      const cli = spawnSync(process.execPath, ['dist/audit/verify.cli.js'], {
        env: { PATH: process.env.PATH, AUDIT_DATABASE_URL: db.url },
        encoding: 'utf8',
      });
      expect({ status: cli.status, stdout: cli.stdout }).toEqual({
        status: 0,
        stdout: 'audit chain OK: 1 rows\n',
      });
    });

    it('leaves the open row of a killed gateway to the next one, which closes it as unknown only once its lease has run out', async () => {
      const port = await freePort();
      const killed = spawn(process.execPath, [GATEWAY_ENTRY], {
        env: {
          ...process.env,
          PORT: String(port),
          AUDIT_DATABASE_URL: db.url,
          // Outlives the kill and the next gateway's start however slow they are: the test ends
          // the lease itself once it has seen the row left open.
          AUDIT_REPLICA_LEASE_SECONDS: '3600',
          // Nor does it give up on the held PUT before the kill, however late that comes.
          UPSTREAM_TIMEOUT_MS: '120000',
          LOG_FILE: join(process.env.VLG_TEST_LOG_DIR ?? tmpdir(), `killed-${process.pid}.log`),
        },
        stdio: 'ignore',
      });
      try {
        const url = `http://127.0.0.1:${port}`;
        await until(
          'the gateway to start',
          async () =>
            (await fetch(`${url}/health/live`).catch(() => undefined))?.ok ? true : undefined,
          STEP_LIMIT_MS,
        );
        await injectFault(h, { route: 'taurusdb.putLock', latencyMs: 60_000, times: 1 });
        const putsBefore = h.simulator.calls()['taurusdb.putLock'] ?? 0;
        const answer = fetch(`${url}${lockPath(projectId, instanceId)}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(lockBody('extend', 9)),
        }).catch(() => 'cut off');
        await until(
          'the PUT to reach TaurusDB',
          async () =>
            (h.simulator.calls()['taurusdb.putLock'] ?? 0) > putsBefore ? true : undefined,
          STEP_LIMIT_MS,
        );
        killed.kill('SIGKILL');
        await once(killed, 'exit');
        expect(await answer).toBe('cut off');
      } finally {
        if (killed.exitCode === null && killed.signalCode === null) killed.kill('SIGKILL');
      }
      const [open] = (await rows()).filter((row) => row.seq === null);
      expect(open).toBeDefined();

      const next = await startHarness({
        AUDIT_DATABASE_URL: db.url,
        AUDIT_REPLICA_LEASE_SECONDS: '1',
      });
      try {
        // Its start-up reconcile has run, and the killed gateway's lease has not yet ended.
        const [lease] = await db.query<{ live: boolean }>(
          'SELECT lease_until > now() AS live FROM audit_replicas WHERE replica_id = $1',
          [open.replica_id],
        );
        expect(lease.live).toBe(true);
        expect((await rows()).find((row) => row.id === open.id)).toMatchObject({ seq: null });

        // The killed gateway's lease runs out.
        await db.query('UPDATE audit_replicas SET lease_until = now() WHERE replica_id = $1', [
          open.replica_id,
        ]);
        const closed = await until(
          'the open row to be closed',
          async () => (await rows()).find((row) => row.id === open.id && row.seq !== null),
          STEP_LIMIT_MS,
        );
        expect(closed).toMatchObject({ outcome: 'unknown', error_code: 'GW.CRASHED' });
        expect(await runVerify({ sqlitePath: h.auditPath, databaseUrl: db.url })).toEqual({
          exitCode: 0,
          output: 'audit chain OK: 2 rows\n',
        });
      } finally {
        await next.close();
      }
    }, 60_000);
  });

  describe('with PostgreSQL down', () => {
    let db: TestDatabase;
    let h: Harness;

    beforeAll(async () => {
      db = await TestDatabase.create();
      h = await startHarness({ AUDIT_DATABASE_URL: db.url });
    });

    afterAll(async () => {
      await h.close();
      await db.drop();
    });

    it('reports not ready and refuses mutations with 503 GW.AUDIT_UNAVAILABLE, calling nothing upstream', async () => {
      const token = await h.simulator.mintToken({ sub: 'pg-down', groups: ['dba'] });
      await db.refuseConnections();
      try {
        h.simulator.reset();
        await expectPutRefusedUnaudited(h, token, INSTANCES.financeStaging);
        // Readiness results are cached for a few seconds.
        const body = await until(
          'readiness to fail',
          async () => {
            const ready = await fetch(`${h.url}/health/ready`);
            return ready.status === 503
              ? ((await ready.json()) as { error: Record<string, unknown> })
              : undefined;
          },
          STEP_LIMIT_MS,
        );
        expect(Object.keys(body.error)).toContain('audit');
        const live = await fetch(`${h.url}/health/live`);
        expect(live.status).toBe(200);
      } finally {
        await db.acceptConnections();
      }
      await until(
        'readiness to recover',
        async () => ((await fetch(`${h.url}/health/ready`)).status === 200 ? true : undefined),
        STEP_LIMIT_MS,
      );
    }, 40_000);
  });
});
