import Database from 'better-sqlite3';
import { anAttempt, AuditStoreDir } from './testing/audit-fixtures.js';
import { runVerify } from './verify-command.js';

describe('runVerify (npm run audit:verify)', () => {
  let dir: AuditStoreDir;

  beforeEach(() => {
    dir = new AuditStoreDir();
  });

  afterEach(() => dir.cleanup());

  async function storeWithRows(count: number): Promise<string[]> {
    const trail = await dir.start();
    const ids: string[] = [];
    for (let n = 0; n < count; n += 1) {
      ids.push(await trail.recordSealed(anAttempt(), { outcome: 'succeeded', durationMs: 5 }));
    }
    return ids;
  }

  it('prints the row count and exits 0 for an intact chain', async () => {
    await storeWithRows(3);

    expect(await runVerify({ sqlitePath: dir.file(), databaseUrl: null })).toEqual({
      exitCode: 0,
      output: 'audit chain OK: 3 rows\n',
    });
  });

  it('names the first broken row and exits 1', async () => {
    const ids = await storeWithRows(3);
    const db = new Database(dir.file());
    db.exec('DROP TRIGGER audit_events_sealed_no_update');
    db.prepare("UPDATE audit_events SET principal_sub = 'mallory' WHERE seq = 2").run();
    db.close();

    expect(await runVerify({ sqlitePath: dir.file(), databaseUrl: null })).toEqual({
      exitCode: 1,
      output: `audit chain BROKEN at seq 2 (id ${ids[1]}): hash does not match the row contents\n`,
    });
  });

  it('changes nothing in the store it verifies, not even open attempts', async () => {
    const trail = await dir.start();
    await trail.recordAttempt(anAttempt());

    expect(await runVerify({ sqlitePath: dir.file(), databaseUrl: null })).toMatchObject({
      exitCode: 0,
    });
    const [open] = (await trail.list({}, 1)).events;
    expect(open.seq).toBeNull();
  });

  it('exits 2 when there is no store at the path', async () => {
    const result = await runVerify({ sqlitePath: dir.file('missing.sqlite'), databaseUrl: null });

    expect(result.exitCode).toBe(2);
    expect(result.output).toContain(`audit chain not verified: ${dir.file('missing.sqlite')}`);
  });

  it('verifies the PostgreSQL store, not the SQLite file, when AUDIT_DATABASE_URL is set', async () => {
    await storeWithRows(1);

    const result = await runVerify({
      sqlitePath: dir.file(),
      databaseUrl: 'postgres://audit:s3cret-pw@127.0.0.1:1/audit',
    });

    expect(result.exitCode).toBe(2);
    expect(result.output).toContain('audit chain not verified: postgresql://127.0.0.1:1/audit');
    expect(result.output).not.toContain('s3cret-pw');
  });
});
