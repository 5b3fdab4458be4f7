import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { SqliteAuditStore } from '../src/audit/sqlite-audit-store.js';
import { runVerify } from '../src/audit/verify-command.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { injectFault, lockBody, lockPath, rest } from './support/clients.js';
import { expectPutRefusedUnaudited } from './support/expectations.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const { projectId, id: instanceId } = INSTANCES.financeStaging;
const verify = (sqlitePath: string) => runVerify({ sqlitePath, databaseUrl: null });

describe('audit trail', () => {
  let h: Harness;
  let token: string;

  beforeAll(async () => {
    h = await startHarness();
    token = await h.simulator.mintToken({ sub: 'auditee', groups: ['dba', 'auditor'] });
  });
  afterAll(() => h.close());

  it('fails closed: 503 and no upstream PUT while the store cannot be written', async () => {
    h.simulator.reset();
    // Another process holding the write lock is what a full disk or a broken volume looks like
    // from here: every write of the gateway fails once SQLite's busy timeout runs out.
    const blocker = new Database(h.auditPath);
    blocker.exec('BEGIN EXCLUSIVE');
    try {
      await expectPutRefusedUnaudited(h, token, INSTANCES.financeStaging);
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    const ready = await fetch(`${h.url}/health/ready`);
    expect(ready.status).toBe(200);
  }, 20_000);

  it('chains every attempt so that the trail verifies, and names a modified row', async () => {
    for (const days of [5, 6, 7]) {
      const action = days === 5 ? 'enable' : 'extend';
      const answer = await rest(h, 'PUT', lockPath(projectId, instanceId), {
        token,
        body: lockBody(action, days),
      });
      expect(answer.status).toBe(200);
    }
    const intact = await verify(h.auditPath);
    expect(intact.exitCode).toBe(0);
    expect(intact.output).toMatch(/audit chain OK: \d+ rows/);

    const db = new Database(h.auditPath);
    const victim = db
      .prepare('SELECT id, seq FROM audit_events WHERE retention_days = 6 AND seq IS NOT NULL')
      .get() as { id: string; seq: number };
    // The gateway's own triggers refuse edits to sealed rows; someone with the file can drop them.
    db.exec('DROP TRIGGER audit_events_sealed_no_update');
    db.prepare('UPDATE audit_events SET retention_days = 3650 WHERE id = ?').run(victim.id);
    db.close();

    const broken = await verify(h.auditPath);
    expect(broken.exitCode).toBe(1);
    expect(broken.output).toContain(`seq ${victim.seq}`);
    expect(broken.output).toContain(victim.id);
  });

  it('closes an attempt left open by a crash as unknown when the gateway starts again', async () => {
    const storePath = h.auditPath.replace('audit.sqlite', 'restarted.sqlite');
    // What a gateway killed during an upstream call leaves behind: an attempt row, never sealed.
    // (A graceful stop would wait for the seal; a SIGKILL does not: test/chaos does it for real.)
    const crashed = SqliteAuditStore.open(storePath, 'readwrite');
    let openId: string;
    try {
      openId = await crashed.recordAttempt(
        {
          requestId: 'crash-test-0001',
          correlationId: null,
          channel: 'rest',
          principalIss: h.simulator.idpIssuer,
          principalSub: 'crashed-carl',
          callerAddress: '127.0.0.1',
          projectId,
          instanceId,
          action: 'enable',
          retentionDays: 9,
          dryRun: false,
          decisionAllowed: true,
          decisionRule: 'finance-dba',
          decisionReasons: [],
          policyVersion: 'sha256:0000000000000000',
        },
        new Date().toISOString(),
      );
    } finally {
      crashed.close();
    }
    const restarted = await startHarness({ AUDIT_SQLITE_PATH: storePath });
    try {
      const auditor = await restarted.simulator.mintToken({ sub: 'ava', groups: ['auditor'] });
      const trail = await rest<{ events: { id: string; outcome: string; error_code: string }[] }>(
        restarted,
        'GET',
        `/v1/audit-events?instance_id=${instanceId}`,
        { token: auditor },
      );
      expect(trail.body.events.find((e) => e.id === openId)).toMatchObject({
        outcome: 'unknown',
        error_code: 'GW.CRASHED',
      });
    } finally {
      await restarted.close();
    }
  });

  it('lets a mutation in flight at shutdown finish and seal its row before the store closes', async () => {
    const storePath = h.auditPath.replace('audit.sqlite', 'shutdown.sqlite');
    // Longer than the 10 s after which Apollo's drain, were it stopped with the other modules,
    // would cut every open connection.
    const upstreamMs = 10_500;
    const stopping = await startHarness({
      AUDIT_SQLITE_PATH: storePath,
      UPSTREAM_TIMEOUT_MS: String(upstreamMs + 5_000),
    });
    try {
      const caller = await stopping.simulator.mintToken({ sub: 'late-lee', groups: ['dba'] });
      await injectFault(stopping, { route: 'taurusdb.putLock', latencyMs: upstreamMs, times: 1 });
      const answer = rest(stopping, 'PUT', lockPath(projectId, instanceId), {
        token: caller,
        body: lockBody('enable', 4),
      });
      while (stopping.simulator.calls()['taurusdb.putLock'] === 0) await sleep(5);
      const closed = stopping.app.close();

      const answered = await answer;
      expect(answered.status).toBe(200);
      expect(answered.headers.get('connection')).toBe('close');
      await closed;
    } finally {
      await stopping.close();
    }
    const db = new Database(storePath, { readonly: true });
    try {
      expect(db.prepare('SELECT outcome FROM audit_events').all()).toEqual([
        { outcome: 'succeeded' },
      ]);
    } finally {
      db.close();
    }
  }, 30_000);
});
