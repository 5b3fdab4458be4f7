import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * A connection to the audit trail's SQLite file for the stores kept beside it. `readwrite`
 * creates the file and its directory, turns on WAL with `synchronous=FULL` (a write is on disk
 * when it returns) and applies `schema`; `readonly` changes nothing and needs the file to exist.
 * Every connection waits for another's short write transaction instead of failing at once.
 */
export function openSqliteFile(
  sqlitePath: string,
  mode: 'readwrite' | 'readonly',
  schema: string,
): Database.Database {
  const readonly = mode === 'readonly';
  if (!readonly) mkdirSync(dirname(sqlitePath), { recursive: true });
  const db = new Database(sqlitePath, { readonly, fileMustExist: readonly });
  try {
    db.pragma('busy_timeout = 5000');
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(schema);
    }
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
