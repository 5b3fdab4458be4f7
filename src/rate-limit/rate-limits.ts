import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { RedisConnection } from '../redis/redis-connection.js';
import { rateLimitConfig, type RateLimitConfig } from './rate-limit.config.js';

/** PUTs and GraphQL mutations are mutations; GETs and GraphQL queries are reads. */
export type CallKind = 'mutations' | 'reads';

const WINDOW_SECONDS = 60;

/** Far more callers than a gateway serves in a minute; past it the keys are hashed afresh. */
const MAX_KEPT_KEYS = 10_000;

export interface RateLimitRefusal {
  limit: number;
  retryAfterSeconds: number;
}

type Limiters = Record<CallKind, RateLimiterAbstract>;

/**
 * One counter per principal and kind of call, in fixed one-minute windows. With Redis, every
 * replica counts in the same key (an atomic INCR with its expiry, in one script); without it, or
 * while it is unavailable, this process counts alone.
 */
@Injectable()
export class RateLimits {
  private readonly memory: Limiters;
  private shared: Limiters | undefined;
  /** Each principal's counter key, hashed once rather than on every call. */
  private readonly keys = new Map<string, string>();

  constructor(
    @Inject(rateLimitConfig.KEY) private readonly config: RateLimitConfig,
    private readonly redis: RedisConnection,
  ) {
    this.memory = this.limiters((options) => new RateLimiterMemory(options));
  }

  limitOf(kind: CallKind): number {
    return kind === 'mutations' ? this.config.mutationsPerMinute : this.config.readsPerMinute;
  }

  /** Counts one call; answers the refusal when it is over the principal's limit. */
  async consume(kind: CallKind, principalId: string): Promise<RateLimitRefusal | undefined> {
    const key = this.keyOf(principalId);
    const refused = await this.redis.run(
      'rate-limit',
      (redis) => refusalOf(this.sharedLimiters(redis)[kind].consume(key)),
      () => refusalOf(this.memory[kind].consume(key)),
    );
    return refused === undefined
      ? undefined
      : {
          limit: this.limitOf(kind),
          retryAfterSeconds: Math.max(1, Math.ceil(refused.msBeforeNext / 1000)),
        };
  }

  /** Hashed: keys stay short, and Redis does not list who called. */
  private keyOf(principalId: string): string {
    let key = this.keys.get(principalId);
    if (key === undefined) {
      key = createHash('sha256').update(principalId).digest('base64url');
      if (this.keys.size >= MAX_KEPT_KEYS) this.keys.clear();
      this.keys.set(principalId, key);
    }
    return key;
  }

  private sharedLimiters(redis: Redis): Limiters {
    this.shared ??= this.limiters(
      (options) => new RateLimiterRedis({ ...options, storeClient: redis }),
    );
    return this.shared;
  }

  private limiters(
    create: (options: {
      keyPrefix: string;
      points: number;
      duration: number;
    }) => RateLimiterAbstract,
  ): Limiters {
    const of = (kind: CallKind) =>
      create({ keyPrefix: `rate:${kind}`, points: this.limitOf(kind), duration: WINDOW_SECONDS });
    return { mutations: of('mutations'), reads: of('reads') };
  }
}

/** The limiter rejects with its result when over the limit, and with an Error when it failed. */
async function refusalOf(consumed: Promise<RateLimiterRes>): Promise<RateLimiterRes | undefined> {
  try {
    await consumed;
    return undefined;
  } catch (outcome) {
    if (outcome instanceof RateLimiterRes) return outcome;
    throw outcome;
  }
}
