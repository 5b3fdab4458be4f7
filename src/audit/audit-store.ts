import type { VerifyResult } from './audit-chain.js';
import type { AuditAttempt, AuditCompletion, AuditEvent, AuditOutcome } from './audit-record.js';

/** A write the store refuses because of what it asks (sealing a row that is not open), not because the store failed. */
export class AuditWriteRefused extends Error {}

/** The filters of a listing, as stored values: times as ISO strings, the cursor as the last id seen. */
export interface AuditQuery {
  projectId?: string;
  instanceId?: string;
  outcome?: AuditOutcome;
  lockRequestId?: string;
  settlesAuditId?: string;
  since?: string;
  until?: string;
  beforeId?: string;
}

export interface AuditListing {
  /** Newest first (by id, a UUIDv7). */
  events: AuditEvent[];
  /** Another page follows. */
  more: boolean;
}

/**
 * What the audit trail needs from a store, whichever keeps the rows (SQLite, PostgreSQL), and
 * the Nest injection token of the configured one. Every store passes the same contract suite
 * (`testing/audit-store.contract.ts`).
 *
 * - A write resolves once it is durable. Concurrent writes may share one commit.
 * - Sealing (assigning `seq`, `prev_hash`, `hash` with `sealRow`) is serialised by the store's
 *   database, never by process memory, so that every process writing to it extends one chain.
 * - A request that is wrong rejects with AuditWriteRefused; any other rejection means the store
 *   failed, and the trail answers it with 503 GW.AUDIT_UNAVAILABLE.
 * - Times are the gateway clock's, as ISO strings.
 */
export abstract class AuditStore {
  /** Told the number of writes in every commit that made it to disk. */
  onCommit: (writes: number) => void = () => undefined;
  /** Told how many open rows every reconcile closed, the store's own periodic ones among them. */
  onReconciled: (rows: number) => void = () => undefined;

  /** Where the rows are, for the log: never a password. */
  abstract readonly location: string;

  /**
   * Connects; `readwrite` also creates or migrates the schema. `readonly` is for verification,
   * which must never change the trail: it creates nothing and closes no open attempt.
   */
  abstract open(mode: 'readwrite' | 'readonly'): Promise<void>;

  /** Writes an open row (no seq, no hash) before the upstream call; returns its id. */
  abstract recordAttempt(attempt: AuditAttempt, at: string): Promise<string>;

  /** Seals the open row `id` as the next link of the chain; AuditWriteRefused if it is not open. */
  abstract complete(id: string, completion: AuditCompletion, at: string): Promise<void>;

  /** Writes a row sealed in one step, for decisions that make no upstream call. */
  abstract recordSealed(
    attempt: AuditAttempt,
    completion: AuditCompletion,
    at: string,
  ): Promise<string>;

  /**
   * Seals the open rows that no writer will seal and returns how many: as `unknown` (GW.CRASHED)
   * when their writer is gone, with what the call knew when this writer's own write of the row
   * failed; never a row that a live writer may still seal.
   */
  abstract reconcileOpenAttempts(at: string): Promise<number>;

  /** Newest first, at most `limit` events. */
  abstract list(query: AuditQuery, limit: number): Promise<AuditListing>;

  /** Recomputes the chain in `seq` order and names the first broken row. */
  abstract verify(): Promise<VerifyResult>;

  /** Readiness: a real write. */
  abstract checkWritable(at: string): Promise<void>;

  /** Liveness: false once the store has failed in a way only a restart cures. */
  abstract isAlive(): boolean;

  /** Commits the writes already asked for, then disconnects. Calls after it fail. */
  abstract close(): Promise<void>;
}
