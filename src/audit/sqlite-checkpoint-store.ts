import Database from 'better-sqlite3';
import {
  CHECKPOINT_COLUMNS,
  CheckpointStore,
  checkpointRow,
  expectExtends,
  fromCheckpointRow,
  type ChainHashes,
  type CheckpointBuilder,
  type CheckpointListing,
  type CheckpointRow,
  type StoredCheckpoint,
} from './checkpoint-store.js';
import { openSqliteFile } from './sqlite-file.js';

/**
 * The triggers keep the gateway (or a careless operator) from changing a checkpoint; someone
 * with the file can drop them, which is why the files in AUDIT_CHECKPOINT_DIR are what
 * verification trusts.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  position INTEGER PRIMARY KEY CHECK (position >= 1),
  digest TEXT NOT NULL UNIQUE CHECK (length(digest) = 64),
  seq INTEGER NOT NULL CHECK (seq >= 0),
  hash TEXT NOT NULL CHECK (length(hash) = 64),
  row_count INTEGER NOT NULL CHECK (row_count >= 0),
  written_at TEXT NOT NULL,
  prev_checkpoint TEXT UNIQUE,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  CHECK ((position = 1) = (prev_checkpoint IS NULL))
) STRICT;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
  BEGIN SELECT RAISE(ABORT, 'audit checkpoints cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
  BEGIN SELECT RAISE(ABORT, 'audit checkpoints cannot be deleted'); END;
`;

const SELECT = `SELECT ${CHECKPOINT_COLUMNS.join(', ')} FROM audit_checkpoints`;
const INSERT = `INSERT INTO audit_checkpoints (${CHECKPOINT_COLUMNS.join(', ')})
  VALUES (${CHECKPOINT_COLUMNS.map((column) => `@${column}`).join(', ')})`;
const CHAIN_HEAD = `SELECT seq, hash FROM audit_events WHERE seq IS NOT NULL
  ORDER BY seq DESC LIMIT 1`;

/**
 * Checkpoints in the audit trail's SQLite file, on a connection of their own. A checkpoint is
 * written once an interval, so its few milliseconds on the main thread do not matter; the
 * BEGIN IMMEDIATE transaction keeps the audit worker's seals out while the head is signed.
 */
export class SqliteCheckpointStore extends CheckpointStore {
  private db: Database.Database | null = null;
  private hasTable = false;

  constructor(private readonly sqlitePath: string) {
    super();
  }

  get location(): string {
    return this.sqlitePath;
  }

  open(mode: 'readwrite' | 'readonly'): Promise<void> {
    let db: Database.Database;
    try {
      db = openSqliteFile(this.sqlitePath, mode, SCHEMA);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    try {
      // A file written before checkpoints existed has none, which verification must see.
      this.hasTable =
        db
          .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
          .get('audit_checkpoints') !== undefined;
    } catch (error) {
      db.close();
      return Promise.reject(error as Error);
    }
    this.db = db;
    return Promise.resolve();
  }

  append(build: CheckpointBuilder): Promise<StoredCheckpoint> {
    const db = this.connection();
    return new Promise((resolve) => {
      const stored = db
        .transaction(() => {
          const head = db.prepare(CHAIN_HEAD).get() as { seq: number; hash: string } | undefined;
          const newest = db.prepare(`${SELECT} ORDER BY position DESC LIMIT 1`).get() as
            CheckpointRow | undefined;
          const previous = newest ? fromCheckpointRow(newest) : null;
          const checkpoint = build(head ?? null, previous);
          expectExtends(checkpoint, previous);
          const row = checkpointRow(checkpoint, previous);
          db.prepare(INSERT).run(row);
          return { ...checkpoint, position: row.position as number };
        })
        .immediate();
      resolve(stored);
    });
  }

  list(limit: number, beforePosition?: number): Promise<CheckpointListing> {
    if (!this.hasTable) return Promise.resolve({ checkpoints: [], more: false });
    const rows = this.connection()
      .prepare(`${SELECT} WHERE position < ? ORDER BY position DESC LIMIT ?`)
      .all(beforePosition ?? Number.MAX_SAFE_INTEGER, limit + 1) as CheckpointRow[];
    return Promise.resolve({
      checkpoints: rows.slice(0, limit).map(fromCheckpointRow),
      more: rows.length > limit,
    });
  }

  all(): Promise<StoredCheckpoint[]> {
    if (!this.hasTable) return Promise.resolve([]);
    const rows = this.connection().prepare(`${SELECT} ORDER BY position`).all() as CheckpointRow[];
    return Promise.resolve(rows.map(fromCheckpointRow));
  }

  chainHashes(seqs: readonly number[]): Promise<ChainHashes> {
    const db = this.connection();
    const read = db.transaction(() => {
      const head = db.prepare(CHAIN_HEAD).get() as { seq: number; hash: string } | undefined;
      const bySeq = db.prepare('SELECT hash FROM audit_events WHERE seq = ?');
      const hashes = new Map<number, string>();
      for (const seq of seqs) {
        const row = bySeq.get(seq) as { hash: string } | undefined;
        if (row) hashes.set(seq, row.hash);
      }
      return { head: head ?? null, hashes };
    });
    return Promise.resolve(read.deferred());
  }

  close(): Promise<void> {
    this.db?.close();
    this.db = null;
    return Promise.resolve();
  }

  private connection(): Database.Database {
    if (!this.db) throw new Error('the checkpoint store is not open');
    return this.db;
  }
}
