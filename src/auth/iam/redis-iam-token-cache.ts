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
 */
export class RedisIamTokenCache extends IamTokenCache {
  private readonly logger = new Logger(RedisIamTokenCache.name);
  private warnedUnopenable = false;

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
    return this.redis.run(
      'token-cache',
      (redis) => this.read(redis, key),
      () => this.fallback.get(key),
    );
  }

  async set(key: string, token: IamToken): Promise<void> {
    const ttlMs = token.expiresAt.getTime() - this.clock.nowMs();
    if (ttlMs <= 0) return;
    const sealed = this.cipher.seal(key, JSON.stringify(storedFrom(token)));
    await this.redis.run(
      'token-cache',
      async (redis) => {
        await redis.set(this.tokenKey(key), sealed, 'PX', ttlMs);
      },
      () => this.fallback.set(key, token),
    );
  }

  async delete(key: string, ifValue?: IamToken): Promise<void> {
    await this.fallback.delete(key, ifValue);
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
