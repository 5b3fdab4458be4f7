import type { LockRequest, LockRequestState } from '../domain/lock-request.js';

/** The filters of a listing. Newest first; the cursor is the last id seen. */
export interface LockRequestQuery {
  state?: LockRequestState;
  projectId?: string;
  instanceId?: string;
  /** `mine`: requests made by this principal. */
  requester?: { iss: string; sub: string };
  /**
   * `awaitingMyApproval`: PENDING_APPROVAL requests that one of these groups may approve, that
   * this principal did not make and has not yet approved or denied.
   */
  awaitingApprovalBy?: { iss: string; sub: string; groups: readonly string[] };
  beforeId?: string;
}

export interface LockRequestListing {
  requests: LockRequest[];
  /** Another page follows. */
  more: boolean;
}

/**
 * Where lock requests are kept: the SQLite file of the audit trail when embedded, the same
 * PostgreSQL database when shared (DESIGN §5). Every store passes the one contract suite
 * (`testing/lock-request-store.contract.ts`).
 *
 * Every change is a compare-and-set on `version`, so that of two replicas (or two approvers)
 * racing on one request exactly one wins; the state machine itself lives in the service.
 * A write resolves once it is durable. Times are the gateway clock's, as ISO strings.
 */
export abstract class LockRequestStore {
  /** Where the requests are, for the log: never a password. */
  abstract readonly location: string;

  /** Connects and creates or migrates the schema. */
  abstract open(): Promise<void>;

  /** Stores a new request (version 1). */
  abstract insert(request: LockRequest): Promise<void>;

  abstract get(id: string): Promise<LockRequest | null>;

  /**
   * Writes `next` (whose version is one more than `expectedVersion`) only if the stored request
   * still has `expectedVersion`; false when another writer came first.
   */
  abstract update(next: LockRequest, expectedVersion: number): Promise<boolean>;

  /** Newest first, at most `limit`. */
  abstract list(query: LockRequestQuery, limit: number): Promise<LockRequestListing>;

  /**
   * Requests background work may have to move at `now`, at most `limit`: PENDING_APPROVAL past
   * `expiresAt`; SCHEDULED at or past `notBefore`; EXECUTING past `claimUntil` (its executor is
   * gone); and, after all of those, UNKNOWN ones last changed at or before `uncertainBefore` and
   * not waiting for a later reading (`nextReadingAt` unset or reached), so that requests nobody
   * can settle yet neither starve the others nor are read on every pass.
   * Least recently changed first.
   */
  abstract listActionable(
    now: string,
    limit: number,
    uncertainBefore: string,
  ): Promise<LockRequest[]>;

  /**
   * Background work that must run on one replica at a time (settling lost answers, writing
   * checkpoints) holds a named lease until `until`. Answers true when `holder` has it now: it
   * was free, had run out at `now`, or was already `holder`'s (which renews it).
   */
  abstract claimLease(name: string, holder: string, now: string, until: string): Promise<boolean>;

  /** Readiness. */
  abstract check(): Promise<void>;

  abstract close(): Promise<void>;
}
