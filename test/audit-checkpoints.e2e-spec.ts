import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeHash } from '../src/audit/audit-chain.js';
import {
  checkpointDigest,
  checkpointFileJson,
  checkpointFileName,
  checkpointPayloadJson,
  parseCheckpointFile,
  type SignedCheckpoint,
} from '../src/audit/audit-checkpoint.js';
import type { AuditEvent } from '../src/audit/audit-record.js';
import { decodeRow, type StoredRow } from '../src/audit/audit-row.js';
import { describeWithPostgres, TestDatabase } from '../src/audit/testing/postgres-test-database.js';
import { generateSigningKey, publicKeyFileOf } from '../src/checkpoints/signing-key.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { graphql, lockBody, lockPath, rest } from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';
import { until } from '../src/common/testing/polling.js';

/**
 * Signed checkpoints (DESIGN §8) against an attacker with write access to the store: each
 * tampering is done as they would (dropping or disabling the triggers first), and the built
 * `audit:verify` CLI must name it. The trail stays intact across a restart and two replicas.
 */

const STAGING = INSTANCES.financeStaging;

interface Verdict {
  status: number | null;
  stdout: string;
}

/** The built CLI, as an operator runs it: `audit:verify -- --checkpoints DIR --public-key FILE`. */
function verifyCli(
  store: Record<string, string>,
  dir: string,
  publicKey: string,
  flags: string[] = [],
): Verdict {
  const run = spawnSync(
    process.execPath,
    ['dist/audit/verify.cli.js', '--checkpoints', dir, '--public-key', publicKey, ...flags],
    { env: { PATH: process.env.PATH, ...store }, encoding: 'utf8' },
  );
  return { status: run.status, stdout: run.stdout + run.stderr };
}

function newKey(dir: string): { file: string; publicKey: string } {
  const file = join(dir, 'signing-key.pem');
  generateSigningKey(file);
  return { file, publicKey: publicKeyFileOf(file) };
}

async function addRows(h: Harness, count: number): Promise<void> {
  const token = await h.simulator.mintToken({ sub: 'checkpoint-dba', groups: ['dba'] });
  for (let n = 0; n < count; n += 1) {
    const answer = await rest(h, 'PUT', `${lockPath(STAGING.projectId, STAGING.id)}?dry_run=true`, {
      token,
      body: lockBody('enable', 5 + n),
    });
    expect(answer.status).toBe(200);
  }
}

interface RestCheckpoint {
  position: number;
  seq: number;
  hash: string;
  rows: number;
  time: string;
  prev_checkpoint: string | null;
  key_id: string;
  signature: string;
  file_name: string;
}

const asPayload = (c: RestCheckpoint): SignedCheckpoint => ({
  seq: c.seq,
  hash: c.hash,
  rows: c.rows,
  time: c.time,
  prevCheckpoint: c.prev_checkpoint,
  keyId: c.key_id,
  signature: c.signature,
});

async function checkpointsOf(h: Harness, auditor: string): Promise<RestCheckpoint[]> {
  const answer = await rest<{ checkpoints: RestCheckpoint[] }>(
    h,
    'GET',
    '/v1/audit-checkpoints?limit=500',
    {
      token: auditor,
    },
  );
  expect(answer.status).toBe(200);
  return answer.body.checkpoints;
}

/** Every later row's prev_hash and hash, recomputed after `rows[index]` was changed. */
function recomputedFrom(rows: AuditEvent[], index: number): AuditEvent[] {
  const out = rows.map((row) => ({ ...row }));
  for (let n = index; n < out.length; n += 1) {
    const prevHash = n === 0 ? out[0].prevHash : (out[n - 1].hash as string);
    out[n] = { ...out[n], prevHash };
    out[n].hash = computeHash(prevHash as string, out[n]);
  }
  return out.slice(index);
}

/** A checkpoint file signed with a key of the attacker's, naming the genuine key's id. */
function forgedCheckpoint(genuine: SignedCheckpoint, dir: string): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const payload = {
    ...genuine,
    time: new Date().toISOString(),
    prevCheckpoint: checkpointDigest(genuine),
  };
  const forged: SignedCheckpoint = {
    ...payload,
    signature: sign(null, Buffer.from(checkpointPayloadJson(payload)), privateKey).toString(
      'base64',
    ),
  };
  const name = checkpointFileName(forged);
  writeFileSync(join(dir, name), checkpointFileJson(forged));
  return name;
}

describe('signed audit checkpoints (SQLite)', () => {
  const work = mkdtempSync(join(tmpdir(), 'vlg-checkpoints-'));
  const auditPath = join(work, 'audit.sqlite');
  const checkpointDir = join(work, 'checkpoints');
  const key = newKey(work);
  // Every variable spelled out: harnesses of one process share process.env.
  const env = {
    AUDIT_DATABASE_URL: '',
    AUDIT_CHECKPOINT_INTERVAL_SECONDS: '3600',
    AUDIT_SQLITE_PATH: auditPath,
    AUDIT_CHECKPOINT_DIR: checkpointDir,
    AUDIT_SIGNING_KEY_FILE: key.file,
  };
  let listed: RestCheckpoint[];
  /** The checkpoint files, oldest first. */
  let files: { name: string; checkpoint: SignedCheckpoint }[];

  /** A copy of the trail and its checkpoint directory, for one tampering. */
  function copy(name: string): { sqlite: string; dir: string } {
    const target = join(work, name);
    cpSync(auditPath, join(target, 'audit.sqlite'));
    cpSync(checkpointDir, join(target, 'checkpoints'), { recursive: true });
    return { sqlite: join(target, 'audit.sqlite'), dir: join(target, 'checkpoints') };
  }

  const verify = (sqlite: string, dir: string, flags: string[] = []) =>
    verifyCli({ AUDIT_SQLITE_PATH: sqlite }, dir, key.publicKey, flags);

  beforeAll(async () => {
    let h = await startHarness(env);
    let auditor = await h.simulator.mintToken({ sub: 'tia', groups: ['dba', 'auditor'] });
    await addRows(h, 3);
    const viaRest = await rest(h, 'POST', '/v1/audit-checkpoints', { token: auditor });
    expect(viaRest.status).toBe(201);
    await addRows(h, 2);
    const viaGraphql = await graphql(
      h,
      'mutation { createAuditCheckpoint { seq rows keyId fileName } }',
      {},
      auditor,
    );
    expect(viaGraphql.errors).toBeUndefined();
    await addRows(h, 1);
    // Shutdown writes one; the next start chains to it.
    await h.close();
    h = await startHarness(env);
    auditor = await h.simulator.mintToken({ sub: 'tia', groups: ['dba', 'auditor'] });
    await addRows(h, 2);
    expect((await rest(h, 'POST', '/v1/audit-checkpoints', { token: auditor })).status).toBe(201);
    listed = await checkpointsOf(h, auditor);
    await h.close();
    files = readdirSync(checkpointDir)
      .sort()
      .map((name) => ({
        name,
        checkpoint: parseCheckpointFile(readFileSync(join(checkpointDir, name), 'utf8')),
      }));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('writes one on demand (REST, GraphQL), on shutdown and after the restart, each chained to the one before', () => {
    expect(listed.map((c) => [c.position, c.seq, c.rows])).toEqual([
      [4, 8, 2],
      [3, 6, 1],
      [2, 5, 2],
      [1, 3, 3],
    ]);
    // The fifth, written as the restarted gateway stopped, signs the same head again.
    expect(files.map(({ checkpoint }) => [checkpoint.seq, checkpoint.rows])).toEqual([
      [3, 3],
      [5, 2],
      [6, 1],
      [8, 2],
      [8, 0],
    ]);
    expect(files.slice(0, 4).map(({ name }) => name)).toEqual(
      [...listed].reverse().map((c) => c.file_name),
    );
    expect(files[0].checkpoint.prevCheckpoint).toBeNull();
    files.slice(1).forEach(({ checkpoint }, n) => {
      expect(checkpoint.prevCheckpoint).toBe(checkpointDigest(files[n].checkpoint));
    });
  });

  it('passes an intact trail across the restart', () => {
    const verdict = verify(auditPath, checkpointDir);
    expect(verdict).toEqual({
      status: 0,
      stdout: expect.stringMatching(
        /^audit chain OK: 8 rows\ncheckpoints OK: 5 signed by key [0-9a-f]{16}, the newest at seq 8/,
      ),
    });
  });

  it('tail cut off: detected and named', () => {
    const { sqlite, dir } = copy('tail-cut');
    const db = new Database(sqlite);
    db.exec('DROP TRIGGER audit_events_sealed_no_delete; DELETE FROM audit_events WHERE seq > 4');
    db.close();

    const verdict = verify(sqlite, dir);
    // eslint-disable-next-line no-console -- the closing note quotes what the CLI prints
    console.log(`tail cut off:\n${verdict.stdout}`);
    expect(verdict.status).toBe(1);
    expect(verdict.stdout).toContain('audit chain OK: 4 rows');
    const named = files
      .filter(({ checkpoint }) => checkpoint.seq > 4)
      .map(({ name, checkpoint }) => `tail-cut: ${name} seq ${checkpoint.seq}`);
    for (const line of named) expect(verdict.stdout).toContain(line);
  });

  it('one row changed and every later hash recomputed: detected and named', () => {
    const { sqlite, dir } = copy('recomputed');
    const db = new Database(sqlite);
    db.exec('DROP TRIGGER audit_events_sealed_no_update');
    const rows = (db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as StoredRow[]).map(
      decodeRow,
    );
    rows[1] = { ...rows[1], principalSub: 'mallory' };
    const update = db.prepare(
      'UPDATE audit_events SET principal_sub = ?, prev_hash = ?, hash = ? WHERE seq = ?',
    );
    for (const row of recomputedFrom(rows, 1))
      update.run(row.principalSub, row.prevHash, row.hash, row.seq);
    db.close();

    const verdict = verify(sqlite, dir);
    // eslint-disable-next-line no-console -- the closing note quotes what the CLI prints
    console.log(`one row changed, later hashes recomputed:\n${verdict.stdout}`);
    expect(verdict.status).toBe(1);
    // The recomputed chain holds together on its own: only the signed hashes give it away.
    expect(verdict.stdout).toContain('audit chain OK: 8 rows');
    expect(verdict.stdout).toContain(
      `hash-mismatch: ${files[0].name} seq 3: row seq 3 does not have the hash it was signed with: a row in seq 1–3 was changed`,
    );
  });

  it('a checkpoint file deleted: detected and named', () => {
    const { sqlite, dir } = copy('file-deleted');
    const second = files[1];
    rmSync(join(dir, second.name));

    const verdict = verify(sqlite, dir);
    // eslint-disable-next-line no-console -- the closing note quotes what the CLI prints
    console.log(`a checkpoint file deleted:\n${verdict.stdout}`);
    expect(verdict.status).toBe(1);
    expect(verdict.stdout).toContain(
      `missing-checkpoint-file: ${second.name} seq ${second.checkpoint.seq}`,
    );
  });

  it('a checkpoint forged with another key: detected and named', () => {
    const { sqlite, dir } = copy('forged');
    const forged = forgedCheckpoint(files[4].checkpoint, dir);

    const verdict = verify(sqlite, dir);
    // eslint-disable-next-line no-console -- the closing note quotes what the CLI prints
    console.log(`a checkpoint forged with another key:\n${verdict.stdout}`);
    expect(verdict.status).toBe(1);
    expect(verdict.stdout).toContain(
      `bad-signature: ${forged} seq 8: the signature does not verify with the public key`,
    );
  });

  it('checkpoints that stopped: a gap longer than two intervals is detected and named', async () => {
    const { sqlite, dir } = copy('stopped');
    const newest = files[4];
    // No checkpoint is written into the copy: with an interval of 1 s, two seconds after the
    // newest one checkpoints have stopped.
    const verdict = await until('the gap to be reported', () => {
      const run = verify(sqlite, dir, ['--interval-seconds', '1']);
      return Promise.resolve(run.status === 1 ? run : undefined);
    });
    // eslint-disable-next-line no-console -- the closing note quotes what the CLI prints
    console.log(`checkpoints that stopped:\n${verdict.stdout}`);
    expect(verdict.stdout).toContain(`gap: ${newest.name} seq 8: it is the newest checkpoint and`);
    expect(verdict.stdout).toContain('checkpoints stopped');
  });
});

await describeWithPostgres('signed audit checkpoints (PostgreSQL, two replicas)', () => {
  const work = mkdtempSync(join(tmpdir(), 'vlg-checkpoints-pg-'));
  const checkpointDir = join(work, 'checkpoints');
  const key = newKey(work);
  let db: TestDatabase;
  let replicas: Harness[];
  let auditor: string;

  const verify = () => verifyCli({ AUDIT_DATABASE_URL: db.url }, checkpointDir, key.publicKey);

  beforeAll(async () => {
    db = await TestDatabase.create();
    const env = {
      AUDIT_DATABASE_URL: db.url,
      AUDIT_CHECKPOINT_DIR: checkpointDir,
      AUDIT_SIGNING_KEY_FILE: key.file,
      AUDIT_CHECKPOINT_INTERVAL_SECONDS: '1',
    };
    const first = await startHarness(env);
    replicas = [first, await startHarness(env, { simulator: first.simulator })];
    auditor = await first.simulator.mintToken({ sub: 'tia', groups: ['dba', 'auditor'] });
    for (const replica of replicas) {
      await addRows(replica, 2);
      expect(
        (await rest(replica, 'POST', '/v1/audit-checkpoints', { token: auditor })).status,
      ).toBe(201);
    }
    // The elected replica's periodic ones come in beside those asked for.
    await until('a periodic checkpoint', async () =>
      (await checkpointsOf(first, auditor)).length > 2 ? true : undefined,
    );
    await addRows(replicas[1], 1);
  });
  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    await db.drop();
    rmSync(work, { recursive: true, force: true });
  });

  it('serves the key and the checkpoints to auditors only, and the age of the newest as a metric', async () => {
    const [one] = replicas;
    const dba = await one.simulator.mintToken({ sub: 'dana', groups: ['dba'] });
    expect((await rest(one, 'GET', '/v1/audit-checkpoints', { token: dba })).status).toBe(403);
    expect((await rest(one, 'POST', '/v1/audit-checkpoints', { token: dba })).status).toBe(403);
    const keyAnswer = await rest<{ key_id: string; public_key_pem: string }>(
      one,
      'GET',
      '/v1/audit-checkpoints/public-key',
      { token: auditor },
    );
    expect(keyAnswer.body.public_key_pem).toBe(readFileSync(key.publicKey, 'utf8'));
    const viaGraphql = await graphql(
      one,
      '{ auditCheckpoints(first: 2) { nodes { seq keyId } pageInfo { hasNextPage endCursor } } }',
      {},
      auditor,
    );
    expect(viaGraphql.data?.auditCheckpoints).toEqual({
      nodes: [expect.objectContaining({ keyId: keyAnswer.body.key_id }), expect.anything()],
      pageInfo: { hasNextPage: true, endCursor: expect.any(String) },
    });
    const metrics = await fetch(`${one.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^vault_lock_audit_checkpoint_age_seconds \d+(\.\d+)?(e-\d+)?$/m);
  });

  it('passes the intact trail of both replicas, each checkpoint chained to the one before', async () => {
    const all = [...(await checkpointsOf(replicas[0], auditor))].reverse();
    all
      .slice(1)
      .forEach((c, n) => expect(c.prev_checkpoint).toBe(checkpointDigest(asPayload(all[n]))));
    for (const replica of replicas) await replica.close();
    replicas = [];

    const verdict = verify();
    expect(verdict.status).toBe(0);
    expect(verdict.stdout).toMatch(/^audit chain OK: 5 rows\ncheckpoints OK: \d+ signed by key/);
  });

  it('one row changed and every later hash recomputed, with the triggers disabled by the owner: named', async () => {
    await db.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
    const rows = (await db.query<StoredRow>('SELECT * FROM audit_events ORDER BY seq')).map(
      decodeRow,
    );
    rows[0] = { ...rows[0], principalSub: 'mallory' };
    for (const row of recomputedFrom(rows, 0)) {
      await db.query(
        'UPDATE audit_events SET principal_sub = $1, prev_hash = $2, hash = $3 WHERE seq = $4',
        [row.principalSub, row.prevHash, row.hash, row.seq],
      );
    }

    const verdict = verify();
    // eslint-disable-next-line no-console -- the closing note quotes what the CLI prints
    console.log(`PostgreSQL, one row changed, later hashes recomputed:\n${verdict.stdout}`);
    expect(verdict.status).toBe(1);
    expect(verdict.stdout).toContain('audit chain OK: 5 rows');
    expect(verdict.stdout).toMatch(
      /hash-mismatch: checkpoint-\S+ seq \d+: row seq \d+ does not have the hash/,
    );
  });

  it('tail cut off, with the triggers dropped by the owner: named', async () => {
    await db.query('DROP TRIGGER audit_events_append_only ON audit_events');
    await db.query('DELETE FROM audit_events WHERE seq > 3');

    const verdict = verify();
    // eslint-disable-next-line no-console -- the closing note quotes what the CLI prints
    console.log(`PostgreSQL, tail cut off:\n${verdict.stdout}`);
    expect(verdict.status).toBe(1);
    expect(verdict.stdout).toMatch(
      /tail-cut: checkpoint-\S+ seq 5: it signed the chain up to seq 5, the trail now ends at seq 3/,
    );
  });
});
