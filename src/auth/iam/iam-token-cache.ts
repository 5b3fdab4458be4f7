import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import type { IamToken } from './iam-token.js';

/**
 * Where IAM tokens are kept between calls. In memory for one replica; a shared store (Redis)
 * goes behind the same class so that replicas do not each exchange their own tokens.
 */
export abstract class IamTokenCache {
  abstract get(key: string): Promise<IamToken | undefined>;
  abstract set(key: string, token: IamToken): Promise<void>;
  /** With `ifValue`, removes the entry only while it still holds that same token. */
  abstract delete(key: string, ifValue?: IamToken): Promise<void>;
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

  private isExpired(token: IamToken): boolean {
    return token.expiresAt.getTime() <= this.clock.nowMs();
  }
}
