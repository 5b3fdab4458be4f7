import { createHmac } from 'node:crypto';
import { registerAs } from '@nestjs/config';
import { IsByteLength, IsOptional, IsUrl, ValidateIf } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';

/** As long as the SHA-256 output the key protects; `openssl rand -hex 32` gives 64 bytes of text. */
const MIN_SECRET_BYTES = 32;

class NotificationsEnv {
  // The message never repeats the value: a webhook URL often carries a token in its path.
  @IsOptional()
  @IsUrl(
    {
      protocols: ['http', 'https'],
      require_protocol: true,
      require_tld: false,
      disallow_auth: true,
      allow_fragments: false,
    },
    { message: 'must be an http:// or https:// URL, without credentials or a fragment' },
  )
  NOTIFY_WEBHOOK_URL?: string;

  // One message for missing and too short alike, which never repeats the value.
  @ValidateIf((env: NotificationsEnv) => env.NOTIFY_WEBHOOK_URL !== undefined)
  @IsByteLength(MIN_SECRET_BYTES, undefined, {
    message: `is required when NOTIFY_WEBHOOK_URL is set: at least ${MIN_SECRET_BYTES} bytes (e.g. from \`openssl rand -hex 32\`)`,
  })
  NOTIFY_WEBHOOK_SECRET?: string;
}

/** The key webhook bodies are signed with. Never printed or serialised. */
export class WebhookSecret {
  readonly #key: Buffer;

  constructor(secret: string) {
    this.#key = Buffer.from(secret, 'utf8');
  }

  /** The `X-Signature` value of these exact bytes: `sha256=<hex HMAC-SHA256>`. */
  sign(body: string): string {
    return `sha256=${createHmac('sha256', this.#key).update(body, 'utf8').digest('hex')}`;
  }

  toJSON(): string {
    return '[redacted]';
  }
}

export interface WebhookConfig {
  /** May carry a token in its path or query: only its origin is ever logged. */
  url: string;
  secret: WebhookSecret;
}

export interface NotificationsConfig {
  /** Null: lock request changes are not sent anywhere. */
  webhook: WebhookConfig | null;
}

export const notificationsConfig = registerAs('notifications', (): NotificationsConfig => {
  const env = validateEnv(process.env, NotificationsEnv);
  return {
    webhook:
      env.NOTIFY_WEBHOOK_URL === undefined || env.NOTIFY_WEBHOOK_SECRET === undefined
        ? null
        : { url: env.NOTIFY_WEBHOOK_URL, secret: new WebhookSecret(env.NOTIFY_WEBHOOK_SECRET) },
  };
});
