import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { toWellFormed } from '../common/unicode-text.js';
import {
  AUDIT_COLUMN_TABLE,
  type AuditAttempt,
  type AuditCompletion,
  type AuditEvent,
} from './audit-record.js';

/**
 * The hash chain, shared by every store: a store only persists rows and hands them back in
 * `seq` order, so a row hashed by one store verifies the same way when read by another.
 */

/** The `prev_hash` of the first sealed row. */
export const GENESIS_HASH = '0'.repeat(64);

/** The last sealed row: the next row is sealed after it. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export interface BrokenLink {
  seq: number;
  id: string;
  reason: string;
}

export type VerifyResult =
  | { ok: true; rows: number }
  | {
      ok: false;
      /** rows that verified before the broken one */ rows: number;
      firstBroken: BrokenLink;
    };

/**
 * RFC 8785 JSON of every hashed column (all but `hash`), keyed by column name and holding the
 * domain values (booleans, the reasons array), so the form does not depend on how a store
 * encodes them.
 */
export function canonicalRow(row: Omit<AuditEvent, 'hash'>): string {
  const columns = Object.entries(AUDIT_COLUMN_TABLE).filter(([, column]) => column.hashed);
  const values = Object.fromEntries(
    columns
      .map(([field, column]) => [column, row[field as keyof typeof row] ?? null] as const)
      .filter(([column, value]) => value !== null || !column.hashedOnlyWhenSet)
      .map(([column, value]) => [column.name, value]),
  );
  const json = canonicalize(values);
  if (json === undefined) throw new Error('audit row has no canonical JSON form');
  return json;
}

export function computeHash(prevHash: string, row: Omit<AuditEvent, 'hash'>): string {
  return createHash('sha256')
    .update(prevHash + canonicalRow(row), 'utf8')
    .digest('hex');
}

/** A completion, or what start-up reconciliation knows of one: not how long it took. */
export type SealFields = Omit<AuditCompletion, 'durationMs'> & { durationMs: number | null };

/**
 * The row written before the upstream call: the attempt, not yet a link of the chain. Its text
 * is made well-formed (lone surrogates as U+FFFD): identities and caller input holding one are
 * refused earlier and upstream strings are cleaned as they arrive, so this only guarantees that
 * any row (policy text included) can be hashed, and is stored as it was hashed.
 */
export function openEvent(attempt: AuditAttempt, id: string, startedAt: string): AuditEvent {
  const wellFormed = Object.fromEntries(
    Object.entries(attempt).map(([field, value]) => [
      field,
      typeof value === 'string' ? toWellFormed(value) : value,
    ]),
  ) as unknown as AuditAttempt;
  return {
    ...wellFormed,
    decisionReasons: attempt.decisionReasons.map(toWellFormed),
    lockRequestId: wellFormed.lockRequestId ?? null,
    settlesAuditId: wellFormed.settlesAuditId ?? null,
    traceId: wellFormed.traceId ?? null,
    id,
    seq: null,
    startedAt,
    completedAt: null,
    outcome: null,
    upstreamStatus: null,
    errorCode: null,
    durationMs: null,
    prevHash: null,
    hash: null,
  };
}

/** Closes an open row as the link after `head` (null: the chain is empty). */
export function sealRow(
  open: AuditEvent,
  head: ChainHead | null,
  completion: SealFields,
  completedAt: string,
): AuditEvent {
  const prevHash = head?.hash ?? GENESIS_HASH;
  const unhashed: Omit<AuditEvent, 'hash'> = {
    ...open,
    seq: (head?.seq ?? 0) + 1,
    prevHash,
    completedAt,
    outcome: completion.outcome,
    upstreamStatus: completion.upstreamStatus ?? null,
    errorCode: completion.errorCode ?? null,
    durationMs: completion.durationMs === null ? null : Math.round(completion.durationMs),
  };
  return { ...unhashed, hash: computeHash(prevHash, unhashed) };
}

/**
 * Checks sealed rows one at a time in `seq` order. Fed row by row so that a store can stream or
 * page its rows instead of loading the whole trail.
 */
export class ChainVerifier {
  private verified = 0;
  private previous: ChainHead = { seq: 0, hash: GENESIS_HASH };
  private broken: BrokenLink | null = null;

  /** Returns false once the chain is broken; later rows are not looked at. */
  add(row: AuditEvent): boolean {
    if (this.broken) return false;
    const reason = this.flaw(row);
    if (reason) {
      this.broken = { seq: row.seq ?? 0, id: row.id, reason };
      return false;
    }
    this.previous = { seq: row.seq as number, hash: row.hash as string };
    this.verified += 1;
    return true;
  }

  /** A stored row that cannot even be decoded has been tampered with too. */
  addUnreadable(seq: number, id: string, reason: string): false {
    this.broken ??= { seq, id, reason };
    return false;
  }

  result(): VerifyResult {
    return this.broken
      ? { ok: false, rows: this.verified, firstBroken: this.broken }
      : { ok: true, rows: this.verified };
  }

  private flaw(row: AuditEvent): string | null {
    const expectedSeq = this.previous.seq + 1;
    if (row.seq === null || row.hash === null || row.prevHash === null) {
      return 'row is not sealed';
    }
    if (row.seq !== expectedSeq) {
      return `expected seq ${expectedSeq}, found ${row.seq}: a sealed row is missing`;
    }
    if (row.prevHash !== this.previous.hash) {
      return this.previous.seq === 0
        ? 'prev_hash of the first row is not the genesis hash'
        : `prev_hash does not match the hash of seq ${this.previous.seq}`;
    }
    if (computeHash(row.prevHash, row) !== row.hash) {
      return 'hash does not match the row contents';
    }
    return null;
  }
}

export function verifyChain(rowsInSeqOrder: Iterable<AuditEvent>): VerifyResult {
  const verifier = new ChainVerifier();
  for (const row of rowsInSeqOrder) {
    if (!verifier.add(row)) break;
  }
  return verifier.result();
}
