import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeHash } from '../src/audit/audit-chain.js';
import { AUDIT_COLUMNS, type AuditEvent } from '../src/audit/audit-record.js';
import { AuditTrail } from '../src/audit/audit-trail.js';
import { runVerify } from '../src/audit/verify-command.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { graphql, lockBody, lockPath, rest, SET_LOCK_MUTATION } from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const verify = (sqlitePath: string) => runVerify({ sqlitePath, databaseUrl: null });

interface BrokenAt {
  seq: number;
  id: string;
  reason: string;
}

/**
 * Edits made with direct write access to the file. `chain[n]` is the row sealed as seq n + 1;
 * each edit returns the row that verification must name first.
 */
const TAMPERING: { name: string; edit(db: Database.Database, chain: AuditEvent[]): BrokenAt }[] = [
  {
    name: 'update: a retention raised in place',
    edit(db, chain) {
      db.prepare('UPDATE audit_events SET retention_days = 3650 WHERE seq = 3').run();
      return { seq: 3, id: chain[2].id, reason: 'hash does not match the row contents' };
    },
  },
  {
    name: "update: an outcome rewritten, with the row's own hash recomputed",
    edit(db, chain) {
      const rewritten = { ...chain[2], outcome: 'failed' as const };
      db.prepare("UPDATE audit_events SET outcome = 'failed', hash = ? WHERE seq = 3").run(
        computeHash(rewritten.prevHash as string, rewritten),
      );
      return { seq: 4, id: chain[3].id, reason: 'prev_hash does not match the hash of seq 3' };
    },
  },
  {
    name: 'delete: a row removed from the middle',
    edit(db, chain) {
      db.prepare('DELETE FROM audit_events WHERE seq = 3').run();
      return {
        seq: 4,
        id: chain[3].id,
        reason: 'expected seq 3, found 4: a sealed row is missing',
      };
    },
  },
  {
    name: 'reorder: two rows swap their seq',
    edit(db, chain) {
      db.exec(`UPDATE audit_events SET seq = -seq WHERE seq IN (2, 4);
                 UPDATE audit_events SET seq = -seq + (CASE seq WHEN -2 THEN 2 ELSE -2 END)
                   WHERE seq < 0`);
      return { seq: 2, id: chain[3].id, reason: 'prev_hash does not match the hash of seq 1' };
    },
  },
  {
    name: 'insert: a forged row with a correctly computed hash slipped in as seq 3',
    edit(db, chain) {
      // With a request id of its own: request ids are unique in the trail.
      const forged = {
        ...chain[2],
        id: randomUUID(),
        requestId: randomUUID(),
        retentionDays: 3650,
      };
      const hash = computeHash(forged.prevHash as string, forged);
      // Make room: every later row moves up by one (in two steps, as seq is unique).
      db.exec(`UPDATE audit_events SET seq = -seq - 1 WHERE seq >= 3;
                 UPDATE audit_events SET seq = -seq WHERE seq < 0`);
      const columns = Object.values(AUDIT_COLUMNS);
      const forgedValues = {
        id: '@id',
        seq: '3',
        request_id: '@requestId',
        retention_days: '3650',
        hash: '@hash',
      };
      db.prepare(
        `INSERT INTO audit_events (${columns.join(', ')})
           SELECT ${columns.map((c) => forgedValues[c as keyof typeof forgedValues] ?? c).join(', ')}
           FROM audit_events WHERE id = @copied`,
      ).run({ id: forged.id, requestId: forged.requestId, hash, copied: chain[2].id });
      return { seq: 4, id: chain[2].id, reason: 'prev_hash does not match the hash of seq 3' };
    },
  },
];

describe('tamper evidence of the audit trail the gateway wrote', () => {
  let h: Harness;
  let chain: AuditEvent[];
  const copies = mkdtempSync(join(tmpdir(), 'vlg-tamper-'));

  /** A consistent copy of the live store (WAL included), for one edit. */
  async function copyOfStore(name: string): Promise<string> {
    const path = join(copies, `${name}.sqlite`);
    const live = new Database(h.auditPath, { readonly: true });
    try {
      await live.backup(path);
    } finally {
      live.close();
    }
    return path;
  }

  async function tamperedCopy(edit: (typeof TAMPERING)[number]['edit'], name: string) {
    const path = await copyOfStore(name);
    const db = new Database(path);
    try {
      // The gateway's triggers refuse these edits; someone with the file drops them first.
      db.exec(`DROP TRIGGER audit_events_sealed_no_update;
               DROP TRIGGER audit_events_sealed_no_delete`);
      return { path, brokenAt: edit(db, chain) };
    } finally {
      db.close();
    }
  }

  beforeAll(async () => {
    h = await startHarness();
    const token = await h.simulator.mintToken({ sub: 'tamper-target', groups: ['dba'] });
    const staging = INSTANCES.financeStaging;
    const path = lockPath(staging.projectId, staging.id);
    // Rows of every kind: succeeded, rejected by TaurusDB, a dry run, denied, over both channels.
    const answers = [
      await rest(h, 'PUT', path, { token, body: lockBody('enable', 5) }),
      await rest(h, 'PUT', path, { token, body: lockBody('extend', 6) }),
      await rest(h, 'PUT', path, { token, body: lockBody('extend', 4) }),
      await rest(h, 'PUT', `${path}?dry_run=true`, { token, body: lockBody('extend', 10) }),
      await rest(
        h,
        'PUT',
        lockPath(INSTANCES.marketingProd.projectId, INSTANCES.marketingProd.id),
        {
          token,
          body: lockBody('enable', 5),
        },
      ),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 400, 200, 403]);
    const viaGraphql = await graphql(
      h,
      SET_LOCK_MUTATION,
      {
        input: {
          projectId: staging.projectId,
          instanceId: staging.id,
          action: 'EXTEND',
          lockRetentionDays: 7,
        },
      },
      token,
    );
    expect(viaGraphql.errors).toBeUndefined();

    const { events } = await h.app.get(AuditTrail).list({}, 500);
    chain = [...events].sort((a, b) => (a.seq as number) - (b.seq as number));
    expect(chain.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });
  afterAll(() => h.close());

  it('verifies the unmodified trail', async () => {
    expect(await verify(h.auditPath)).toEqual({
      exitCode: 0,
      output: `audit chain OK: ${chain.length} rows\n`,
    });
  });

  it.each(TAMPERING)('$name → broken, naming the first broken row', async ({ name, edit }) => {
    const { path, brokenAt } = await tamperedCopy(edit, name.slice(0, name.indexOf(':')));

    expect(await verify(path)).toEqual({
      exitCode: 1,
      output: `audit chain BROKEN at seq ${brokenAt.seq} (id ${brokenAt.id}): ${brokenAt.reason}\n`,
    });
  });

  it('`audit:verify` (the built CLI) exits 0 on the intact copy and 1 on a tampered one', async () => {
    const cli = (sqlitePath: string) =>
      spawnSync(process.execPath, ['dist/audit/verify.cli.js'], {
        env: { PATH: process.env.PATH, AUDIT_SQLITE_PATH: sqlitePath },
        encoding: 'utf8',
      });

    const intact = cli(await copyOfStore('intact-for-cli'));
    expect(intact.status).toBe(0);
    expect(intact.stdout).toBe(`audit chain OK: ${chain.length} rows\n`);

    const { path, brokenAt } = await tamperedCopy(TAMPERING[2].edit, 'delete-for-cli');
    const broken = cli(path);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toBe(
      `audit chain BROKEN at seq ${brokenAt.seq} (id ${brokenAt.id}): ${brokenAt.reason}\n`,
    );
  });
});
