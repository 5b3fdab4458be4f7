import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { validate as isUuid } from 'uuid';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { lockRequestEvent } from './lock-request-notifier.js';
import { WebhookSecret } from './notifications.config.js';
import { aLockRequest } from './testing/lock-request-fixture.js';
import { WebhookReceiver } from './testing/webhook-receiver.js';
import {
  type WebhookDeliveryOptions,
  WebhookLockRequestNotifier,
} from './webhook-lock-request-notifier.js';

const SECRET = 'whsec-0123456789abcdef0123456789abcdef';
/** Backoff of a millisecond or two, and a flush bound no test reaches unless it means to. */
const QUICK: Partial<WebhookDeliveryOptions> = {
  attempts: 3,
  initialBackoffMs: 1,
  maxBackoffMs: 2,
  timeoutMs: 5000,
  flushMs: 20_000,
};

describe('WebhookLockRequestNotifier', () => {
  let receiver: WebhookReceiver;
  let metrics: GatewayMetrics;
  let logged: string[];
  const notifiers: WebhookLockRequestNotifier[] = [];

  beforeEach(async () => {
    receiver = await WebhookReceiver.start(SECRET);
    metrics = new GatewayMetrics();
    logged = [];
    for (const level of ['log', 'warn', 'error', 'debug', 'verbose', 'fatal'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => {
        logged.push(
          args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '),
        );
      });
    }
  });

  afterEach(async () => {
    await Promise.all(notifiers.splice(0).map((notifier) => notifier.onApplicationShutdown()));
    await receiver.close();
    jest.restoreAllMocks();
    expect(logged.join('\n')).not.toContain(SECRET);
    expect(logged.join('\n')).not.toContain('t0k3n');
  });

  function notifierTo(
    url: string,
    options: Partial<WebhookDeliveryOptions> = {},
    secret: string = SECRET,
  ) {
    const notifier = new WebhookLockRequestNotifier(
      { url, secret: new WebhookSecret(secret) },
      metrics,
      { ...QUICK, ...options },
    );
    notifiers.push(notifier);
    return notifier;
  }

  /** Waits for every delivery to end, through the shutdown flush. */
  async function settle(notifier: WebhookLockRequestNotifier): Promise<void> {
    notifiers.splice(notifiers.indexOf(notifier), 1);
    await notifier.onApplicationShutdown();
  }

  async function counted(): Promise<Record<string, number>> {
    const { values } = await metrics.notifications.get();
    return Object.fromEntries(values.map((value) => [value.labels.result, value.value]));
  }

  it('POSTs the event as JSON, signed over the exact body bytes, with a delivery id', async () => {
    const notifier = notifierTo(receiver.url);
    notifier.notify(lockRequestEvent(aLockRequest()));
    await settle(notifier);

    expect(receiver.received).toHaveLength(1);
    const [delivery] = receiver.received;
    expect(delivery.signatureValid).toBe(true);
    expect(delivery.headers['content-type']).toMatch(/^application\/json/);
    expect(isUuid(delivery.headers['x-delivery-id'])).toBe(true);
    expect(delivery.body).toEqual({
      delivery_id: delivery.headers['x-delivery-id'],
      event: 'lock_request.pending_approval',
      at: '2026-11-30T10:05:00.000Z',
      lock_request: {
        id: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
        state: 'PENDING_APPROVAL',
        project_id: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
        instance_id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90in07',
        action: 'enable',
        lock_retention_days: 30,
        requester: 'https://sso.example.com#alice',
        approvals_required: 2,
        approvals: [
          {
            approver: 'https://sso.example.com#bob',
            decision: 'approve',
            comment: 'checked the ticket',
            at: '2026-11-30T10:05:00.000Z',
          },
        ],
        not_before: null,
        expires_at: '2026-12-01T10:00:00.000Z',
        created_at: '2026-11-30T10:00:00.000Z',
        updated_at: '2026-11-30T10:05:00.000Z',
        reason: null,
      },
    });
    expect(delivery.raw).not.toContain(SECRET);
    expect(await counted()).toEqual({ delivered: 1 });
  });

  it('signs what it sends: a receiver with another secret refuses it, and that is final', async () => {
    const notifier = notifierTo(receiver.url, {}, `${SECRET}-other`);
    notifier.notify(lockRequestEvent(aLockRequest()));
    await settle(notifier);

    expect(receiver.received.map((delivery) => delivery.signatureValid)).toEqual([false]);
    expect(await counted()).toEqual({ failed: 1 });
    expect(logged).toEqual([expect.stringContaining('failed: answered 401 (try 1 of 3)')]);
  });

  it('retries a failing receiver with the same delivery, and counts it delivered once', async () => {
    receiver.answerWith(503, 500);
    const notifier = notifierTo(receiver.url);
    notifier.notify(lockRequestEvent(aLockRequest({ state: 'SCHEDULED' })));
    await settle(notifier);

    expect(receiver.received).toHaveLength(3);
    const ids = new Set(receiver.received.map((delivery) => delivery.headers['x-delivery-id']));
    const bodies = new Set(receiver.received.map((delivery) => delivery.raw));
    expect([ids.size, bodies.size]).toEqual([1, 1]);
    expect(receiver.received.every((delivery) => delivery.signatureValid)).toBe(true);
    expect(receiver.received[2].body.event).toBe('lock_request.scheduled');
    expect(await counted()).toEqual({ delivered: 1 });
    expect(logged).toEqual([]);
  });

  it('gives up after the last try, logging and counting the failure', async () => {
    receiver.answerWith(503, 503, 503);
    const notifier = notifierTo(receiver.url);
    notifier.notify(lockRequestEvent(aLockRequest({ id: 'req-1' })));
    await settle(notifier);

    expect(receiver.received).toHaveLength(3);
    expect(await counted()).toEqual({ failed: 1 });
    expect(logged).toEqual([
      expect.stringMatching(
        /^Notification \S+ \(lock_request\.pending_approval of lock request req-1\) to http:\/\/127\.0\.0\.1:\d+ failed: answered 503 \(try 3 of 3\)$/,
      ),
    ]);
  });

  it('returns to the caller before anything is sent, and counts a receiver that is down', async () => {
    const notifier = notifierTo(await WebhookReceiver.refusedUrl());

    const returned: unknown = notifier.notify(lockRequestEvent(aLockRequest()));
    expect(returned).toBeUndefined();
    expect(await counted()).toEqual({});

    await settle(notifier);
    expect(await counted()).toEqual({ failed: 1 });
    expect(logged).toEqual([expect.stringContaining('failed: network ECONNREFUSED (try 3 of 3)')]);
  });

  it("sends one lock request's events in order, a retry included", async () => {
    receiver.answerWith(503);
    const notifier = notifierTo(receiver.url, { concurrency: 4 });
    for (const state of ['PENDING_APPROVAL', 'SCHEDULED', 'EXECUTING'] as const) {
      notifier.notify(lockRequestEvent(aLockRequest({ state })));
    }
    await settle(notifier);

    expect(receiver.received.map((delivery) => delivery.body.event)).toEqual([
      'lock_request.pending_approval',
      'lock_request.pending_approval',
      'lock_request.scheduled',
      'lock_request.executing',
    ]);
    expect(await counted()).toEqual({ delivered: 3 });
  });

  it('sends the events of different lock requests side by side', async () => {
    receiver.hold();
    const notifier = notifierTo(receiver.url, { concurrency: 4 });
    notifier.notify(lockRequestEvent(aLockRequest({ id: 'a', state: 'PENDING_APPROVAL' })));
    notifier.notify(lockRequestEvent(aLockRequest({ id: 'a', state: 'SCHEDULED' })));
    notifier.notify(lockRequestEvent(aLockRequest({ id: 'b' })));

    await receiver.arrived(2);
    const idOf = (delivery: { body: Record<string, unknown> }) =>
      (delivery.body.lock_request as { id: string }).id;
    expect(receiver.received.map(idOf).sort()).toEqual(['a', 'b']);
    receiver.release();
    await settle(notifier);
    expect(receiver.received.map(idOf).sort()).toEqual(['a', 'a', 'b']);
  });

  it('drops what does not fit in the queue, at once, and delivers the rest', async () => {
    receiver.hold();
    const notifier = notifierTo(receiver.url, { concurrency: 1, maxPending: 2 });
    for (const id of ['a', 'b', 'c']) notifier.notify(lockRequestEvent(aLockRequest({ id })));

    expect(await counted()).toEqual({ dropped: 1 });
    expect(logged).toEqual([
      expect.stringMatching(/of lock request c\) .* dropped: 2 deliveries are pending$/),
    ]);
    await receiver.arrived(1);
    receiver.release();
    await settle(notifier);
    expect(receiver.received.map((delivery) => delivery.body.lock_request)).toMatchObject([
      { id: 'a' },
      { id: 'b' },
    ]);
    expect(await counted()).toEqual({ dropped: 1, delivered: 2 });
  });

  it('at shutdown abandons what the flush bound leaves, and whatever comes after', async () => {
    receiver.hold();
    const notifier = notifierTo(receiver.url, { flushMs: 1 });
    notifier.notify(lockRequestEvent(aLockRequest({ state: 'SCHEDULED' })));
    notifier.notify(lockRequestEvent(aLockRequest({ state: 'EXECUTING' })));
    await receiver.arrived(1);

    await settle(notifier);
    notifier.notify(lockRequestEvent(aLockRequest({ state: 'SUCCEEDED' })));

    expect(await counted()).toEqual({ abandoned: 3 });
    expect(logged).toEqual([
      expect.stringContaining('(lock_request.executing of lock request'),
      expect.stringContaining('(lock_request.scheduled of lock request'),
      expect.stringContaining('(lock_request.succeeded of lock request'),
    ]);
    expect(logged[2]).toMatch(/abandoned: the gateway is shutting down$/);
  });
});
