import { registerAs } from '@nestjs/config';
import { IsOptional, Matches, ValidateIf } from 'class-validator';
import { validateEnv } from '../../config/validate-env.js';

class TokenCacheEnv {
  @IsOptional() REDIS_URL?: string;

  // One message for missing and malformed alike, which never repeats the value.
  @ValidateIf((env: TokenCacheEnv) => env.REDIS_URL !== undefined)
  @Matches(/^[A-Za-z0-9+/]{43}=$/, {
    message:
      'is required when REDIS_URL is set: 32 bytes in base64, 44 characters (e.g. from `openssl rand -base64 32`)',
  })
  TOKEN_CACHE_KEY?: string;
}

/** The key that IAM tokens are encrypted under in Redis. Never printed or serialised. */
export class TokenCacheKey {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    if (bytes.length !== 32) throw new Error('TOKEN_CACHE_KEY must be 32 bytes');
    this.#bytes = bytes;
  }

  bytes(): Buffer {
    return this.#bytes;
  }

  toJSON(): string {
    return '[redacted]';
  }
}

export interface TokenCacheConfig {
  /** Set whenever REDIS_URL is. */
  key?: TokenCacheKey;
}

export const tokenCacheConfig = registerAs('iamTokenCache', (): TokenCacheConfig => {
  const env = validateEnv(process.env, TokenCacheEnv);
  return {
    key:
      env.TOKEN_CACHE_KEY === undefined
        ? undefined
        : new TokenCacheKey(Buffer.from(env.TOKEN_CACHE_KEY, 'base64')),
  };
});
