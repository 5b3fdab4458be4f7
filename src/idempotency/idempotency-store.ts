import { randomUUID } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import { ExpiringMap } from '../common/expiring-map.js';

/** How long a claim holds without renewal, and how long a stored answer is kept. */
export interface IdempotencyTimes {
  leaseMs: number;
  keepMs: number;
}

/** The answer a call settled with, in a form both channels can replay. */
export type StoredAnswer =
  | { kind: 'result'; value: unknown }
  | {
      kind: 'error';
      errorCode: string;
      status: number;
      message: string;
      requestId: string;
      auditId?: string;
    };

/** A call that holds a key: it renews its lease while it runs, then stores its answer or lets go. */
export interface IdempotencyClaim {
  renew(): Promise<void>;
  complete(answer: StoredAnswer): Promise<void>;
  release(): Promise<void>;
}

export type ClaimOutcome =
  | { kind: 'claimed'; claim: IdempotencyClaim }
  | { kind: 'in-progress'; fingerprint: string }
  | { kind: 'done'; fingerprint: string; answer: StoredAnswer };

/**
 * Where idempotency keys live: this process's memory, or Redis for every replica. `key` is
 * already scoped to its principal and hashed; `fingerprint` names the request it was used for.
 */
export abstract class IdempotencyStore {
  /**
   * Atomically takes a free key for a new call (held for `leaseMs` unless renewed), or says what
   * holds it: a call still running, or the answer a finished one stored.
   */
  abstract claim(key: string, fingerprint: string): Promise<ClaimOutcome>;
}

/** One entry under a key, as kept in memory and (as JSON) in Redis. */
export type StoredEntry =
  | { state: 'running'; fingerprint: string; owner: string }
  | { state: 'done'; fingerprint: string; answer: StoredAnswer };

export function outcomeOf(entry: StoredEntry): ClaimOutcome {
  return entry.state === 'running'
    ? { kind: 'in-progress', fingerprint: entry.fingerprint }
    : { kind: 'done', fingerprint: entry.fingerprint, answer: entry.answer };
}

/** Bounds the memory a single process spends on keys; the oldest make room first. */
const MAX_KEYS_IN_MEMORY = 100_000;

/** Keys in this process only: the default without Redis, and the fallback while it is down. */
export class InMemoryIdempotencyStore extends IdempotencyStore {
  private readonly entries: ExpiringMap<string, StoredEntry>;

  constructor(
    private readonly times: IdempotencyTimes,
    private readonly clock: Clock,
  ) {
    super();
    this.entries = new ExpiringMap(MAX_KEYS_IN_MEMORY, clock);
  }

  /** What the key holds, without claiming it. */
  peek(key: string): StoredEntry | undefined {
    return this.entries.get(key);
  }

  async claim(key: string, fingerprint: string): Promise<ClaimOutcome> {
    const held = this.entries.get(key);
    if (held !== undefined) return outcomeOf(held);
    const owner = randomUUID();
    const running: StoredEntry = { state: 'running', fingerprint, owner };
    this.entries.set(key, running, this.clock.nowMs() + this.times.leaseMs);
    const holds = () => this.entries.get(key) === running;
    return {
      kind: 'claimed',
      claim: {
        renew: async () => {
          if (holds()) this.entries.set(key, running, this.clock.nowMs() + this.times.leaseMs);
        },
        complete: async (answer) => this.store(key, fingerprint, answer, holds),
        release: async () => {
          if (holds()) this.entries.delete(key);
        },
      },
    };
  }

  /**
   * Stores an answer while `mayReplace` says the key is still the caller's (its own claim, or,
   * for Redis's fallback, nothing held here).
   */
  store(key: string, fingerprint: string, answer: StoredAnswer, mayReplace: () => boolean): void {
    if (!mayReplace()) return;
    this.entries.set(
      key,
      { state: 'done', fingerprint, answer },
      this.clock.nowMs() + this.times.keepMs,
    );
  }
}
