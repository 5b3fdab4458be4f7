import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../redis/redis-connection.js';
import {
  IdempotencyStore,
  type ClaimOutcome,
  type IdempotencyTimes,
  type InMemoryIdempotencyStore,
  type StoredAnswer,
  type StoredEntry,
  outcomeOf,
} from './idempotency-store.js';

/** Answers what the key holds, or takes it for the caller (with its lease) and answers nil. */
const CLAIM = `
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`;

/**
 * Only while the key still holds the caller's claim: replaces it (with its expiry) or, given an
 * empty value, deletes it. A claim whose lease ran out and was taken by another call stays theirs.
 */
const REPLACE_OWN_CLAIM = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/**
 * Stores a finished call's answer while the key holds the caller's claim or nothing: the call
 * whose claim Redis did not confirm (it may have taken it all the same), kept in memory instead.
 */
const STORE_OWN_OR_FREE = `
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/**
 * Idempotency keys shared by every replica through Redis: one atomic script claims a key or
 * answers what it holds. While Redis is unavailable, this process's memory serves instead; what
 * was kept there meanwhile is consulted first, so a key used during the outage is still honoured
 * here once Redis is back.
 */
export class RedisIdempotencyStore extends IdempotencyStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly fallback: InMemoryIdempotencyStore,
    private readonly times: IdempotencyTimes,
  ) {
    super();
  }

  async claim(key: string, fingerprint: string): Promise<ClaimOutcome> {
    const local = this.fallback.peek(key);
    if (local !== undefined) return outcomeOf(local);
    const name = `idempotency:${key}`;
    const running = JSON.stringify({
      state: 'running',
      fingerprint,
      owner: randomUUID(),
    } satisfies StoredEntry);
    /** Runs `script` on the key with this call's claim; when Redis fails, `fallback` instead. */
    const onOwnClaim = (
      script: string,
      value: string,
      ttlMs: number,
      fallback: () => void = () => undefined,
    ) =>
      this.redis.run(
        'idempotency',
        async (client) => {
          await client.eval(script, 1, name, running, value, ttlMs);
        },
        fallback,
      );
    const done = (answer: StoredAnswer) =>
      JSON.stringify({ state: 'done', fingerprint, answer } satisfies StoredEntry);
    return this.redis.run<ClaimOutcome>(
      'idempotency',
      async (redis) => {
        const held = (await redis.eval(CLAIM, 1, name, running, this.times.leaseMs)) as
          string | null;
        if (held !== null) return outcomeOf(JSON.parse(held) as StoredEntry);
        return {
          kind: 'claimed',
          claim: {
            renew: () => onOwnClaim(REPLACE_OWN_CLAIM, running, this.times.leaseMs),
            complete: (answer) =>
              onOwnClaim(
                REPLACE_OWN_CLAIM,
                done(answer),
                this.times.keepMs,
                // Kept here instead, so that at least this replica replays it.
                () =>
                  this.fallback.store(
                    key,
                    fingerprint,
                    answer,
                    () => this.fallback.peek(key) === undefined,
                  ),
              ),
            // Unreleased (Redis down), the claim lapses with its lease.
            release: () => onOwnClaim(REPLACE_OWN_CLAIM, '', 0),
          },
        };
      },
      async () => {
        // Redis did not answer the claim, which it may have taken all the same (a command past
        // its deadline still runs). The key is held here; what Redis holds of this call is
        // renewed, released or answered like a claim of its own, and the answer also goes to a
        // key left free, so that another replica replays it instead of calling again once an
        // unrenewed claim there has run out.
        const outcome = await this.fallback.claim(key, fingerprint);
        if (outcome.kind !== 'claimed') return outcome;
        const here = outcome.claim;
        return {
          kind: 'claimed',
          claim: {
            renew: async () => {
              await here.renew();
              await onOwnClaim(REPLACE_OWN_CLAIM, running, this.times.leaseMs);
            },
            complete: async (answer) => {
              await here.complete(answer);
              await onOwnClaim(STORE_OWN_OR_FREE, done(answer), this.times.keepMs);
            },
            release: async () => {
              await here.release();
              await onOwnClaim(REPLACE_OWN_CLAIM, '', 0);
            },
          },
        };
      },
    );
  }
}
