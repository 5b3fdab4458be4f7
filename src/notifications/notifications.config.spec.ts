import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from '@jest/globals';
import { notificationsConfig } from './notifications.config.js';

const VARIABLES = ['NOTIFY_WEBHOOK_URL', 'NOTIFY_WEBHOOK_SECRET'];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
const SECRET = 'whsec-0123456789abcdef0123456789abcdef';

function withEnv(values: Record<string, string>) {
  for (const name of VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
  return notificationsConfig();
}

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}

describe('notificationsConfig', () => {
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('sends nothing when NOTIFY_WEBHOOK_URL is unset, a secret alone included', () => {
    expect(withEnv({})).toEqual({ webhook: null });
    expect(withEnv({ NOTIFY_WEBHOOK_SECRET: SECRET })).toEqual({ webhook: null });
  });

  it('takes an http(s) URL, a query included, and signs with the secret it never shows', () => {
    const url = 'https://hooks.example.com/vault-lock?token=abc';
    const config = withEnv({ NOTIFY_WEBHOOK_URL: url, NOTIFY_WEBHOOK_SECRET: SECRET });

    expect(config.webhook?.url).toBe(url);
    expect(config.webhook?.secret.sign('{"a":1}')).toBe(
      `sha256=${createHmac('sha256', SECRET).update('{"a":1}').digest('hex')}`,
    );
    expect(JSON.stringify(config)).not.toContain(SECRET);
    expect(inspect(config, { depth: 10, showHidden: true })).not.toContain(SECRET);
    expect(
      withEnv({ NOTIFY_WEBHOOK_URL: 'http://127.0.0.1:8080/hook', NOTIFY_WEBHOOK_SECRET: SECRET })
        .webhook?.url,
    ).toBe('http://127.0.0.1:8080/hook');
  });

  it('requires the secret with the URL, at least 32 bytes, without repeating it', () => {
    const url = 'https://hooks.example.com/vault-lock';
    const rule =
      'NOTIFY_WEBHOOK_SECRET: is required when NOTIFY_WEBHOOK_URL is set: at least 32 bytes';
    expect(messageOf(() => withEnv({ NOTIFY_WEBHOOK_URL: url }))).toContain(rule);
    const short = 'x'.repeat(31);
    const message = messageOf(() =>
      withEnv({ NOTIFY_WEBHOOK_URL: url, NOTIFY_WEBHOOK_SECRET: short }),
    );
    expect(message).toContain(rule);
    expect(message).not.toContain(short);
    // Bytes, not characters: eleven three-byte characters are 33 bytes.
    expect(
      withEnv({ NOTIFY_WEBHOOK_URL: url, NOTIFY_WEBHOOK_SECRET: '€'.repeat(11) }).webhook,
    ).not.toBeNull();
  });

  it('names a URL that is not http(s), or carries credentials or a fragment, without repeating it', () => {
    for (const url of [
      'ftp://hooks.example.com/x',
      'hooks.example.com/x',
      'https://user:pa55w0rd@hooks.example.com/x',
      'https://hooks.example.com/x#pa55w0rd',
    ]) {
      const message = messageOf(() =>
        withEnv({ NOTIFY_WEBHOOK_URL: url, NOTIFY_WEBHOOK_SECRET: SECRET }),
      );
      expect(message).toContain(
        'NOTIFY_WEBHOOK_URL: must be an http:// or https:// URL, without credentials or a fragment',
      );
      expect(message).not.toContain('pa55w0rd');
    }
  });
});
