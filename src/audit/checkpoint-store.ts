import type { ChainHead } from './audit-chain.js';
import { checkpointDigest, type SignedCheckpoint } from './audit-checkpoint.js';

/** A checkpoint as the store keeps it: its place in the checkpoint chain, from 1. */
export interface StoredCheckpoint extends SignedCheckpoint {
  position: number;
}

export interface CheckpointListing {
  /** Newest first. */
  checkpoints: StoredCheckpoint[];
  /** Another page follows. */
  more: boolean;
}

/** The chain as the store holds it now, at the seqs asked about. */
export interface ChainHashes {
  head: ChainHead | null;
  /** seq → hash, for each asked seq that has a sealed row. */
  hashes: Map<number, string>;
}

/** Builds the next checkpoint from the chain head and the newest checkpoint (null: none yet). */
export type CheckpointBuilder = (
  head: ChainHead | null,
  previous: StoredCheckpoint | null,
) => SignedCheckpoint;

/**
 * Where checkpoints are kept beside the rows they sign: the audit trail's SQLite file, or its
 * PostgreSQL database. Its copy lists them and chains the next one; the files in
 * AUDIT_CHECKPOINT_DIR are the copy that verification trusts.
 */
export abstract class CheckpointStore {
  /** Where the checkpoints are, for the log: never a password. */
  abstract readonly location: string;

  /** `readwrite` creates the table where the store has no migrations; `readonly` only reads. */
  abstract open(mode: 'readwrite' | 'readonly'): Promise<void>;

  /**
   * In one transaction that no seal of the chain can enter, so the head cannot move while it is
   * signed: reads the head and the newest checkpoint, stores what `build` makes of them next,
   * and returns it. Two writers racing cannot both extend one checkpoint: one is refused.
   */
  abstract append(build: CheckpointBuilder): Promise<StoredCheckpoint>;

  /** Newest first, at most `limit`, before `beforePosition` when given. */
  abstract list(limit: number, beforePosition?: number): Promise<CheckpointListing>;

  /** Every checkpoint, oldest first. */
  abstract all(): Promise<StoredCheckpoint[]>;

  /** The chain head and the hashes at `seqs`, read in one snapshot. */
  abstract chainHashes(seqs: readonly number[]): Promise<ChainHashes>;

  abstract close(): Promise<void>;
}

/** The columns of the checkpoint table, in order. */
export const CHECKPOINT_COLUMNS = [
  'position',
  'digest',
  'seq',
  'hash',
  'row_count',
  'written_at',
  'prev_checkpoint',
  'key_id',
  'signature',
] as const;

export type CheckpointRow = Record<(typeof CHECKPOINT_COLUMNS)[number], unknown>;

/** The row of `checkpoint` stored as the one after `previous`. */
export function checkpointRow(
  checkpoint: SignedCheckpoint,
  previous: StoredCheckpoint | null,
): CheckpointRow {
  return {
    position: (previous?.position ?? 0) + 1,
    digest: checkpointDigest(checkpoint),
    seq: checkpoint.seq,
    hash: checkpoint.hash,
    row_count: checkpoint.rows,
    written_at: checkpoint.time,
    prev_checkpoint: checkpoint.prevCheckpoint,
    key_id: checkpoint.keyId,
    signature: checkpoint.signature,
  };
}

/** PostgreSQL hands bigints over as strings. */
export function fromCheckpointRow(row: CheckpointRow): StoredCheckpoint {
  return {
    position: Number(row.position),
    seq: Number(row.seq),
    hash: row.hash as string,
    rows: Number(row.row_count),
    time: row.written_at as string,
    prevCheckpoint: row.prev_checkpoint as string | null,
    keyId: row.key_id as string,
    signature: row.signature as string,
  };
}

/** Refuses a checkpoint that does not extend `previous`: a builder bug, never stored. */
export function expectExtends(checkpoint: SignedCheckpoint, previous: StoredCheckpoint | null) {
  const expected = previous === null ? null : checkpointDigest(previous);
  if (checkpoint.prevCheckpoint !== expected) {
    throw new Error('the checkpoint does not name the newest stored one as prevCheckpoint');
  }
}
