import type { VerifyResult } from './audit-chain.js';
import type { AuditAttempt, AuditCompletion, AuditFilter, AuditPage } from './audit-record.js';

/**
 * The tamper-evident audit trail (DESIGN §3), and the Nest injection token of whichever store
 * backs it. Every write is durable when its promise resolves; a store that cannot write rejects
 * with GatewayError GW.AUDIT_UNAVAILABLE (503), so no upstream call goes out unrecorded.
 */
export abstract class AuditTrail {
  /** Writes an open row before the upstream call; returns its id. */
  abstract recordAttempt(attempt: AuditAttempt): Promise<string>;

  /** Seals the open row `id` as the next link of the chain. */
  abstract complete(id: string, completion: AuditCompletion): Promise<void>;

  /** Writes an already sealed row, for decisions that make no upstream call (denied, dry run). */
  abstract recordSealed(attempt: AuditAttempt, completion: AuditCompletion): Promise<string>;

  /** Newest first. `limit` is 1..500; `cursor` is the opaque `nextCursor` of the previous page. */
  abstract list(filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage>;

  /** Recomputes the chain and names the first broken row. */
  abstract verify(): Promise<VerifyResult>;

  /** Seals every open row as `unknown`; called at start-up. Returns how many it closed. */
  abstract reconcileOpenAttempts(): Promise<number>;

  /** Readiness: a real write to the store. Rejects when the store cannot be written. */
  abstract checkWritable(): Promise<void>;

  /**
   * Liveness: false once the store has failed in a way only a restart cures. Every mutation is
   * refused with 503 from then on, so the process should be restarted, not left running.
   */
  abstract isAlive(): boolean;
}
