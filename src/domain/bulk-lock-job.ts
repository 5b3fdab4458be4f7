import type { VaultLockAction } from './actions.js';

export const BULK_JOB_STATES = ['QUEUED', 'RUNNING', 'FINISHED'] as const;
export type BulkJobState = (typeof BULK_JOB_STATES)[number];

export const BULK_ITEM_STATES = [
  'PENDING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'DENIED',
  'PENDING_APPROVAL',
  'SCHEDULED',
] as const;
export type BulkItemState = (typeof BULK_ITEM_STATES)[number];

/** Where an item's run ends: every state but the two a run passes through. */
export type BulkItemEndState = Exclude<BulkItemState, 'PENDING' | 'RUNNING'>;

/**
 * One bulk lock call (DESIGN §7): one change asked for every instance its selector picked when
 * it was made. The creator's groups are kept because every item is decided on them, long after
 * the creator's token has expired.
 */
export interface BulkLockJob {
  id: string;
  state: BulkJobState;
  projectId: string;
  action: VaultLockAction;
  retentionDays: number;
  dryRun: boolean;
  creatorIss: string;
  creatorSub: string;
  creatorGroups: readonly string[];
  /** The creating call's channel, caller address and request id, carried into every item's audit row. */
  channel: 'graphql' | 'rest';
  callerAddress: string;
  requestId: string;
  /** The creator's key; with `fingerprint`, what makes creation idempotent. */
  idempotencyKey: string | null;
  /** SHA-256 of what was asked (project, selector, action, days, dry run). */
  fingerprint: string;
  createdAt: string;
  /** Items the selector picked, and those that have ended. */
  total: number;
  done: number;
}

export interface BulkLockItem {
  jobId: string;
  /** The instance's place in TaurusDB's list order: items run in this order. */
  position: number;
  instanceId: string;
  state: BulkItemState;
  /** The single call's `result` (`success`, `dry-run`, `pending-approval`, `scheduled`). */
  result: string | null;
  errorCode: string | null;
  auditId: string | null;
  lockRequestId: string | null;
  /**
   * The lock as read just before the item's change was handed to the use case, stored before
   * the change is: null while it has not been, so nothing was sent yet.
   */
  lockBefore: { enabled: boolean; retentionDays: number | null; endsAtMs: number | null } | null;
  /** The runner that holds a RUNNING item, until when, and which of the job's slots it fills. */
  holder: string | null;
  claimUntil: string | null;
  slot: number | null;
}

/** What an item's run (or its settlement) ends with. */
export interface BulkItemOutcome {
  state: BulkItemEndState;
  result: string | null;
  errorCode: string | null;
  auditId: string | null;
  lockRequestId: string | null;
}
