import Database from 'better-sqlite3';

/**
 * Runs `sql` on a connection of its own, as someone with access to the file would. SQLite's
 * refusals are rethrown as plain errors: better-sqlite3's `SqliteError` is no real Error (it has
 * Error's prototype, not its internal slot), so whether jest's `toThrow` recognises it depends on
 * which realm loaded the driver first, and that differs with the suites a jest worker ran before.
 */
export function execOnOwnConnection(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.exec(sql);
  } catch (error) {
    throw new Error(
      error instanceof Object && 'message' in error ? String(error.message) : String(error),
    );
  } finally {
    db.close();
  }
}
