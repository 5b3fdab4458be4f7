import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { ChainHead } from '../audit-chain.js';
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
} from '../checkpoint-store.js';
import { databaseLocation } from './database-location.js';
import { openSchemaPool } from './schema-pool.js';
import { CHAIN_LOCK } from './postgres-audit-store.js';

const SELECT = `SELECT ${CHECKPOINT_COLUMNS.join(', ')} FROM audit_checkpoints`;
const INSERT = `INSERT INTO audit_checkpoints (${CHECKPOINT_COLUMNS.join(', ')})
  VALUES (${CHECKPOINT_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;
const CHAIN_HEAD =
  'SELECT seq, hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1';

/** Checkpoints in the PostgreSQL database of the audit trail, shared by every replica. */
export class PostgresCheckpointStore extends CheckpointStore {
  private readonly logger = new Logger(PostgresCheckpointStore.name);
  private pool: pg.Pool | null = null;

  constructor(private readonly options: { databaseUrl: string; migrate: 'auto' | 'off' }) {
    super();
  }

  get location(): string {
    return databaseLocation(this.options.databaseUrl);
  }

  async open(mode: 'readwrite' | 'readonly'): Promise<void> {
    this.pool = await openSchemaPool({
      databaseUrl: this.options.databaseUrl,
      migrate: this.options.migrate,
      max: 2,
      readonly: mode === 'readonly',
      onConnectionLost: (error) =>
        this.logger.warn(`checkpoint database connection lost: ${error.message}`),
    });
  }

  async append(build: CheckpointBuilder): Promise<StoredCheckpoint> {
    const client = await this.connected().connect();
    try {
      // The chain lock keeps every seal out while the head is signed, on every replica, and
      // makes checkpoint writers take turns.
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
      const head = await client.query<{ seq: string; hash: string }>(CHAIN_HEAD);
      const newest = await client.query<CheckpointRow>(`${SELECT} ORDER BY position DESC LIMIT 1`);
      const previous = newest.rows.length > 0 ? fromCheckpointRow(newest.rows[0]) : null;
      const chainHead: ChainHead | null =
        head.rows.length > 0 ? { seq: Number(head.rows[0].seq), hash: head.rows[0].hash } : null;
      const checkpoint = build(chainHead, previous);
      expectExtends(checkpoint, previous);
      const row = checkpointRow(checkpoint, previous);
      await client.query(
        INSERT,
        CHECKPOINT_COLUMNS.map((column) => row[column]),
      );
      await client.query('COMMIT');
      return { ...checkpoint, position: row.position as number };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async list(limit: number, beforePosition?: number): Promise<CheckpointListing> {
    const { rows } = await this.connected().query<CheckpointRow>(
      `${SELECT} WHERE position < $1 ORDER BY position DESC LIMIT $2`,
      [beforePosition ?? Number.MAX_SAFE_INTEGER, limit + 1],
    );
    return { checkpoints: rows.slice(0, limit).map(fromCheckpointRow), more: rows.length > limit };
  }

  async all(): Promise<StoredCheckpoint[]> {
    const { rows } = await this.connected().query<CheckpointRow>(`${SELECT} ORDER BY position`);
    return rows.map(fromCheckpointRow);
  }

  async chainHashes(seqs: readonly number[]): Promise<ChainHashes> {
    const client = await this.connected().connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const head = await client.query<{ seq: string; hash: string }>(CHAIN_HEAD);
      const found = await client.query<{ seq: string; hash: string }>(
        'SELECT seq, hash FROM audit_events WHERE seq = ANY($1::bigint[])',
        [seqs],
      );
      await client.query('COMMIT');
      return {
        head:
          head.rows.length > 0 ? { seq: Number(head.rows[0].seq), hash: head.rows[0].hash } : null,
        hashes: new Map(found.rows.map((row) => [Number(row.seq), row.hash])),
      };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.end();
  }

  private connected(): pg.Pool {
    if (!this.pool) throw new Error('the checkpoint store is not open');
    return this.pool;
  }
}
