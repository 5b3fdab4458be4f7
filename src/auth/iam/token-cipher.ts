import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { TokenCacheKey } from './token-cache.config.js';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';

function derive(key: TokenCacheKey, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key.bytes(), Buffer.alloc(0), `vlg ${purpose}`, 32));
}

/**
 * Seals IAM cache entries for a store that others can read (Redis). Two keys are derived from
 * `TOKEN_CACHE_KEY`, one per purpose: entries are encrypted with AES-256-GCM, their cache key as
 * additional data, so an entry copied under another key fails to open; and entries are stored
 * under an HMAC of their cache key, so the store never shows whose token or which project it is.
 */
export class TokenCipher {
  readonly #encryptionKey: Buffer;
  readonly #namingKey: Buffer;

  constructor(key: TokenCacheKey) {
    this.#encryptionKey = derive(key, 'iam-token-cache encryption v1');
    this.#namingKey = derive(key, 'iam-token-cache naming v1');
  }

  /** A name for `cacheKey` that reveals nothing of it. */
  nameFor(cacheKey: string): string {
    return createHmac('sha256', this.#namingKey).update(cacheKey).digest('base64url');
  }

  seal(cacheKey: string, plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#encryptionKey, iv);
    cipher.setAAD(Buffer.from(cacheKey, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${FORMAT}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64')}`;
  }

  /** The plaintext, or undefined when the entry was altered, moved, or sealed under another key. */
  open(cacheKey: string, sealed: string): string | undefined {
    const [format, encoded] = sealed.split('.', 2);
    if (format !== FORMAT || encoded === undefined) return undefined;
    const bytes = Buffer.from(encoded, 'base64');
    if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv(
        ALGORITHM,
        this.#encryptionKey,
        bytes.subarray(0, IV_BYTES),
      );
      decipher.setAAD(Buffer.from(cacheKey, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const body = bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
