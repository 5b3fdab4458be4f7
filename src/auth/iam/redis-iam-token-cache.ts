import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { Logger } from '@nestjs/common';
import type { Clock } from '../../common/clock.js';
import type { RedisConnection } from '../../redis/redis-connection.js';
import { IamTokenCache, type InMemoryIamTokenCache } from './iam-token-cache.js';
import { IamToken } from './iam-token.js';
import type { TokenCipher } from './token-cipher.js';

/** Deletes a key only while it still holds the value the caller read (or wrote) there. */
const DELETE_IF_EQUAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const POLL_START_MS = 10;
const POLL_MAX_MS = 100;
/** Rounds of "try the lock, else wait for the winner" before exchanging without the lock. */
const MAX_ROUNDS = 3;

/**
 * How long a token this replica read from or wrote to Redis is answered from its memory before
 * Redis is read again. A token TaurusDB refuses is evicted by this replica's own 401 whatever the
 * bound, so the bound only limits how long Redis may change unseen (an entry another replica
 * evicted or replaced, or an operator removed): two seconds, against IAM's own up to 30 minutes
 * for a revocation to take effect, at the cost of one Redis read per key and bound.
 */
export const HELD_TOKEN_TRUST_MS = 2_000;

/** A token as this replica last saw it in Redis, and when. */
interface HeldToken {
  token: IamToken;
  heldAtMs: number;
}

interface StoredToken {
  value: string;
  projectId: string;
  projectName: string;
  issuedAt: number;
  expiresAt: number;
}

/**
 * The IAM token cache shared by every replica through Redis. Nothing in Redis is usable on its
 * own: each entry (the token and what is known about it) is sealed by `TokenCipher`, under a
 * name that hides whose token it is. A concurrent miss on several replicas makes one exchange:
 * the replica that takes a short lock exchanges and stores, the others poll for its token.
 * While Redis is unavailable, this process's memory cache and exchange serve instead.
 *
 * In front of Redis, each replica holds the opened token it last read from or wrote to Redis for
 * a key, and answers `get` from it for up to `HELD_TOKEN_TRUST_MS` without a round trip or
 * opening the seal again. Redis is read again on a miss, once that bound has passed, and after
 * `delete` (this replica's own 401 evicts the token: the retry reads Redis). What that means
 * across replicas:
 * - A token another replica evicted after a 401 is still answered here until this replica gets
 *   a 401 of its own (it then evicts and retries as the other one did) or the bound passes. A
 *   revoked token is refused by TaurusDB whoever sends it, so this costs at most a refused call
 *   and its retry, which the eviction would have cost this replica anyway.
 * - A successor another replica stored is taken up when this replica's copy is due for refresh:
 *   the provider's `fill` reads Redis first and holds the successor it finds. Within the bound
 *   this replica may answer the older token; both are valid until the older one expires.
 * - Exchanges still go through Redis and its lock alone (`fill`), so there is still at most one
 *   per principal and project across the replicas; answering from memory never exchanges.
 * Redis holds the same sealed entries as without this tier.
 */
export class RedisIamTokenCache extends IamTokenCache {
  private readonly logger = new Logger(RedisIamTokenCache.name);
  private warnedUnopenable = false;
  private readonly held = new Map<string, HeldToken>();
  /**
   * Counts the starts and ends of deletes: a read of Redis under way meanwhile is answered but
   * not held, so that it cannot bring back the token being evicted.
   */
  private evictions = 0;
  private sweptAtMs = 0;

  constructor(
    private readonly redis: RedisConnection,
    private readonly cipher: TokenCipher,
    private readonly fallback: InMemoryIamTokenCache,
    private readonly clock: Clock,
    /** How long a lock holder may take to exchange before others give up on it. */
    private readonly lockMs: number,
  ) {
    super();
  }

  async get(key: string): Promise<IamToken | undefined> {
    const held = this.held.get(key);
    if (held && this.isTrusted(held)) return held.token;
    const evictions = this.evictions;
    return this.redis.run(
      'token-cache',
      async (redis) => {
        const token = await this.read(redis, key);
        if (this.evictions === evictions) this.hold(key, token);
        return token;
      },
      () => this.fallback.get(key),
    );
  }

  async set(key: string, token: IamToken): Promise<void> {
    const ttlMs = token.expiresAt.getTime() - this.clock.nowMs();
    if (ttlMs <= 0) return;
    const sealed = this.cipher.seal(key, JSON.stringify(storedFrom(token)));
    this.held.delete(key);
    await this.redis.run(
      'token-cache',
      async (redis) => {
        await redis.set(this.tokenKey(key), sealed, 'PX', ttlMs);
        this.hold(key, token);
      },
      () => this.fallback.set(key, token),
    );
  }

  async delete(key: string, ifValue?: IamToken): Promise<void> {
    this.forget(key, ifValue);
    try {
      await this.fallback.delete(key, ifValue);
      await this.deleteInRedis(key, ifValue);
    } finally {
      // A read answered while the entry was being deleted may have held the token again.
      this.forget(key, ifValue);
    }
  }

  private async deleteInRedis(key: string, ifValue: IamToken | undefined): Promise<void> {
    await this.redis.run(
      'token-cache',
      async (redis) => {
        const name = this.tokenKey(key);
        if (ifValue === undefined) {
          await redis.del(name);
          return;
        }
        const sealed = await redis.get(name);
        const stored = sealed === null ? undefined : this.open(key, sealed);
        if (sealed !== null && stored?.sameAs(ifValue)) {
          // Compare-and-delete on the sealed text read: a successor written meanwhile stays.
          await redis.eval(DELETE_IF_EQUAL, 1, name, sealed);
        }
      },
      () => undefined,
    );
  }

  async fill(
    key: string,
    exchange: () => Promise<IamToken>,
    replacing?: IamToken,
  ): Promise<IamToken> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const owner = randomUUID();
      const step = await this.redis.run<Step>(
        'exchange-lock',
        (redis) => this.lockOrAwait(redis, key, owner, replacing),
        () => ({ kind: 'unavailable' }),
      );
      switch (step.kind) {
        case 'found':
          this.hold(key, step.token);
          return step.token;
        case 'won':
          return this.exchangeHoldingLock(key, owner, exchange);
        case 'unavailable':
          return this.exchangeAndStore(key, exchange);
        case 'lapsed':
          continue;
      }
    }
    return this.exchangeAndStore(key, exchange);
  }

  /**
   * Takes the exchange lock, or waits while another replica holds it: until its token appears
   * (found) or the lock goes without one, because that exchange failed or took too long (lapsed).
   */
  private async lockOrAwait(
    redis: Redis,
    key: string,
    owner: string,
    replacing: IamToken | undefined,
  ): Promise<Step> {
    const ready = await this.read(redis, key);
    if (ready && this.isSuccessor(ready, replacing)) return { kind: 'found', token: ready };
    const lockKey = this.lockKey(key);
    if ((await redis.set(lockKey, owner, 'PX', this.lockMs, 'NX')) === 'OK') {
      // A holder stores its token before it lets the lock go, so a token stored between the
      // read above and this lock is visible now: taken, not exchanged a second time.
      const stored = await this.read(redis, key);
      if (stored && this.isSuccessor(stored, replacing)) {
        await redis.eval(DELETE_IF_EQUAL, 1, lockKey, owner);
        return { kind: 'found', token: stored };
      }
      return { kind: 'won' };
    }
    const giveUpAt = this.clock.monotonicMs() + this.lockMs;
    for (let pause = POLL_START_MS; this.clock.monotonicMs() < giveUpAt;) {
      await sleep(pause);
      pause = Math.min(2 * pause, POLL_MAX_MS);
      // One transaction, so that a token written just before the lock was released is seen.
      const [sealed, locked] = (
        (await redis.multi().get(this.tokenKey(key)).exists(lockKey).exec()) ?? []
      ).map(([error, value]) => {
        if (error) throw error;
        return value;
      }) as [string | null, number];
      const token = sealed === null ? undefined : this.open(key, sealed);
      if (token && this.isSuccessor(token, replacing)) return { kind: 'found', token };
      if (locked === 0) break;
    }
    return { kind: 'lapsed' };
  }

  private async exchangeHoldingLock(
    key: string,
    owner: string,
    exchange: () => Promise<IamToken>,
  ): Promise<IamToken> {
    try {
      return await this.exchangeAndStore(key, exchange);
    } finally {
      // Released at once, also on failure, so that waiters retry without sitting out the lock.
      await this.redis.run(
        'exchange-lock',
        (redis) => redis.eval(DELETE_IF_EQUAL, 1, this.lockKey(key), owner),
        () => undefined,
      );
    }
  }

  private async exchangeAndStore(
    key: string,
    exchange: () => Promise<IamToken>,
  ): Promise<IamToken> {
    const token = await exchange();
    await this.set(key, token);
    return token;
  }

  private forget(key: string, ifValue: IamToken | undefined): void {
    this.evictions++;
    const held = this.held.get(key);
    if (held && (ifValue === undefined || held.token.sameAs(ifValue))) this.held.delete(key);
  }

  /** Held (or, for no token, forgotten) as what Redis holds for `key` now. */
  private hold(key: string, token: IamToken | undefined): void {
    const nowMs = this.clock.nowMs();
    if (token === undefined) {
      this.held.delete(key);
      return;
    }
    this.held.set(key, { token, heldAtMs: nowMs });
    // Keys nobody asks for any more would otherwise stay here for good.
    if (nowMs >= this.sweptAtMs && nowMs - this.sweptAtMs < HELD_TOKEN_TRUST_MS) return;
    this.sweptAtMs = nowMs;
    for (const [heldKey, entry] of this.held) {
      if (!this.isTrusted(entry)) this.held.delete(heldKey);
    }
  }

  /** Within the bound (a clock set back counts as past it) and still usable. */
  private isTrusted({ token, heldAtMs }: HeldToken): boolean {
    const nowMs = this.clock.nowMs();
    const ageMs = nowMs - heldAtMs;
    return ageMs >= 0 && ageMs < HELD_TOKEN_TRUST_MS && token.isUsableAt(nowMs);
  }

  /** A token a waiter may take: usable, and not the one being replaced. */
  private isSuccessor(token: IamToken, replacing: IamToken | undefined): boolean {
    return token.isUsableAt(this.clock.nowMs()) && !(replacing && token.sameAs(replacing));
  }

  private async read(redis: Redis, key: string): Promise<IamToken | undefined> {
    const sealed = await redis.get(this.tokenKey(key));
    return sealed === null ? undefined : this.open(key, sealed);
  }

  private open(key: string, sealed: string): IamToken | undefined {
    const plaintext = this.cipher.open(key, sealed);
    if (plaintext === undefined) {
      this.warnUnopenable();
      return undefined;
    }
    const stored = JSON.parse(plaintext) as StoredToken;
    return new IamToken(
      stored.value,
      stored.projectId,
      stored.projectName,
      new Date(stored.issuedAt),
      new Date(stored.expiresAt),
    );
  }

  private warnUnopenable(): void {
    if (this.warnedUnopenable) return;
    this.warnedUnopenable = true;
    this.logger.warn(
      'An IAM token cache entry in Redis could not be opened (altered, or sealed under another TOKEN_CACHE_KEY); such entries count as misses',
    );
  }

  private tokenKey(key: string): string {
    return `iam:token:${this.cipher.nameFor(key)}`;
  }

  private lockKey(key: string): string {
    return `iam:exchange-lock:${this.cipher.nameFor(key)}`;
  }
}

type Step =
  | { kind: 'found'; token: IamToken }
  | { kind: 'won' }
  | { kind: 'lapsed' }
  | { kind: 'unavailable' };

function storedFrom(token: IamToken): StoredToken {
  return {
    value: token.value(),
    projectId: token.projectId,
    projectName: token.projectName,
    issuedAt: token.issuedAt.getTime(),
    expiresAt: token.expiresAt.getTime(),
  };
}
