import { afterEach, describe, expect, it } from '@jest/globals';
import { ConfigModule } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { CommonModule } from '../common/common.module.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import {
  LockRequestNotifier,
  NoWebhookLockRequestNotifier,
  lockRequestEvent,
} from './lock-request-notifier.js';
import { NotificationsModule } from './notifications.module.js';
import { aLockRequest } from './testing/lock-request-fixture.js';
import { WebhookReceiver } from './testing/webhook-receiver.js';
import { WebhookLockRequestNotifier } from './webhook-lock-request-notifier.js';

const SECRET = 'whsec-0123456789abcdef0123456789abcdef';

describe('NotificationsModule', () => {
  const saved = { ...process.env };

  afterEach(() => {
    process.env = { ...saved };
  });

  const compile = () =>
    Test.createTestingModule({
      imports: [ConfigModule.forRoot({ ignoreEnvFile: true }), CommonModule, NotificationsModule],
    }).compile();

  it('provides a notifier that sends nothing without NOTIFY_WEBHOOK_URL', async () => {
    delete process.env.NOTIFY_WEBHOOK_URL;
    const app = await compile();
    const notifier = app.get(LockRequestNotifier);

    expect(notifier).toBeInstanceOf(NoWebhookLockRequestNotifier);
    expect(notifier.notify(lockRequestEvent(aLockRequest()))).toBeUndefined();
    await app.close();
  });

  it('provides the webhook notifier, whose pending deliveries are sent before the app closes', async () => {
    const receiver = await WebhookReceiver.start(SECRET);
    try {
      process.env.NOTIFY_WEBHOOK_URL = receiver.url;
      process.env.NOTIFY_WEBHOOK_SECRET = SECRET;
      const app = await compile();
      await app.init();

      const notifier = app.get(LockRequestNotifier);
      expect(notifier).toBeInstanceOf(WebhookLockRequestNotifier);
      notifier.notify(lockRequestEvent(aLockRequest({ state: 'DENIED' })));
      await app.close();

      const { values } = await app.get(GatewayMetrics).notifications.get();
      expect(values).toEqual([
        expect.objectContaining({ labels: { result: 'delivered' }, value: 1 }),
      ]);
      expect(
        receiver.received.map((delivery) => [delivery.body.event, delivery.signatureValid]),
      ).toEqual([['lock_request.denied', true]]);
    } finally {
      await receiver.close();
    }
  });

  it('refuses to start with a URL and no secret, naming the secret', async () => {
    process.env.NOTIFY_WEBHOOK_URL = 'https://hooks.example.com/vault-lock';
    delete process.env.NOTIFY_WEBHOOK_SECRET;

    await expect(compile()).rejects.toThrow(
      /NOTIFY_WEBHOOK_SECRET: is required when NOTIFY_WEBHOOK_URL is set/,
    );
  });
});
