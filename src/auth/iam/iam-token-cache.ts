import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import type { IamToken } from './iam-token.js';

/**
 * Where IAM tokens are kept between calls. In memory for one replica; in Redis, shared and
 * encrypted, so that replicas do not each exchange their own tokens.
 */
export abstract class IamTokenCache {
  abstract get(key: string): Promise<IamToken | undefined>;
  abstract set(key: string, token: IamToken): Promise<void>;
  /** With `ifValue`, removes the entry only while it still holds that same token. */
  abstract delete(key: string, ifValue?: IamToken): Promise<void>;

  /**
   * Stores and answers the token that `exchange` fetches. A shared cache lets one replica
   * exchange while the others wait for its token; `replacing` is the token being superseded,
   * which a waiter must not take for the new one.
   */
  abstract fill(
    key: string,
    exchange: () => Promise<IamToken>,
    replacing?: IamToken,
  ): Promise<IamToken>;
}

@Injectable()
export class InMemoryIamTokenCache extends IamTokenCache {
  readonly #tokens = new Map<string, IamToken>();

  constructor(private readonly clock: Clock) {
    super();
  }

  async get(key: string): Promise<IamToken | undefined> {
    const token = this.#tokens.get(key);
    if (token && this.isExpired(token)) {
      this.#tokens.delete(key);
      return undefined;
    }
    return token;
  }

  async set(key: string, token: IamToken): Promise<void> {
    // Callers who never come back would otherwise leave their tokens here for good.
    for (const [storedKey, stored] of this.#tokens) {
      if (this.isExpired(stored)) {
        this.#tokens.delete(storedKey);
      }
    }
    this.#tokens.set(key, token);
  }

  async delete(key: string, ifValue?: IamToken): Promise<void> {
    const stored = this.#tokens.get(key);
    if (stored && (ifValue === undefined || stored.sameAs(ifValue))) {
      this.#tokens.delete(key);
    }
  }

  /** One process: the provider's in-process single-flight already shares the exchange. */
  async fill(key: string, exchange: () => Promise<IamToken>): Promise<IamToken> {
    const token = await exchange();
    await this.set(key, token);
    return token;
  }

  private isExpired(token: IamToken): boolean {
    return token.expiresAt.getTime() <= this.clock.nowMs();
  }
}
