import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ExponentialBackoff, type IBackoff } from 'cockatiel';
import { v7 as uuidv7 } from 'uuid';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { TransportFailure, UpstreamHttp } from '../common/upstream-http.js';
import { type LockRequestEvent, LockRequestNotifier } from './lock-request-notifier.js';
import type { WebhookConfig } from './notifications.config.js';

export interface WebhookDeliveryOptions {
  /** Tries per delivery, the first included. */
  attempts: number;
  /** Backoff between tries: exponential with jitter, from this up to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Deadline of one try. */
  timeoutMs: number;
  /** Deliveries under way at once (each to a different lock request). */
  concurrency: number;
  /** Deliveries accepted and not yet finished; beyond this an event is dropped. */
  maxPending: number;
  /** At shutdown, how long unfinished deliveries may still take. */
  flushMs: number;
}

/** Waits of about 30 to 45 s in all between the tries: enough to ride out a receiver's restart. */
export const DEFAULT_WEBHOOK_DELIVERY: WebhookDeliveryOptions = {
  attempts: 8,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
  timeoutMs: 5000,
  concurrency: 4,
  maxPending: 1000,
  flushMs: 3000,
};

type DeliveryResult = 'delivered' | 'failed' | 'dropped' | 'abandoned';

interface Delivery {
  /** Sent as `X-Delivery-Id` and in the body, the same on every try: receivers drop repeats. */
  id: string;
  event: LockRequestEvent;
  /** The exact bytes signed and sent. */
  body: string;
}

/** Why one try did not deliver. Holds neither the body nor the URL. */
class TryFailure extends Error {
  constructor(
    readonly reason: string,
    readonly retryable: boolean,
  ) {
    super(reason);
  }
}

/** Receivers answering these may do better later; any other non-2xx answer is final. */
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * POSTs each lock request event to `NOTIFY_WEBHOOK_URL`, signed, from a bounded in-memory queue,
 * so that `notify` never waits for the receiver. Events of one lock request are sent one after
 * the other, in the order they were notified; different requests go out side by side.
 * Deliveries are lost when the queue is full, after the last try, and at shutdown past the
 * flush bound: each such loss is logged and counted in `gateway_notifications_total`.
 */
export class WebhookLockRequestNotifier
  extends LockRequestNotifier
  implements OnApplicationShutdown
{
  private readonly logger = new Logger(WebhookLockRequestNotifier.name);
  private readonly options: WebhookDeliveryOptions;
  private readonly http: UpstreamHttp;
  private readonly backoff: ExponentialBackoff<unknown>;
  /** Only the origin is logged: the path or query may hold a token. */
  private readonly origin: string;
  private readonly waiting: Delivery[] = [];
  /** Lock requests with a delivery under way; their next event waits for it. */
  private readonly sending = new Set<string>();
  private readonly settledWaiters: (() => void)[] = [];
  /** Aborts every try and backoff at shutdown, once the flush bound has passed. */
  private readonly stopping = new AbortController();
  private accepting = true;

  constructor(
    private readonly webhook: WebhookConfig,
    private readonly metrics: GatewayMetrics,
    options: Partial<WebhookDeliveryOptions> = {},
  ) {
    super();
    this.options = { ...DEFAULT_WEBHOOK_DELIVERY, ...options };
    this.http = new UpstreamHttp(this.options.timeoutMs);
    this.backoff = new ExponentialBackoff({
      initialDelay: this.options.initialBackoffMs,
      maxDelay: this.options.maxBackoffMs,
    });
    this.origin = new URL(webhook.url).origin;
  }

  notify(event: LockRequestEvent): void {
    const id = uuidv7();
    if (!this.accepting) {
      this.lost(id, event, 'abandoned', 'the gateway is shutting down');
    } else if (this.waiting.length + this.sending.size >= this.options.maxPending) {
      this.lost(id, event, 'dropped', `${this.options.maxPending} deliveries are pending`);
    } else {
      const body = JSON.stringify({
        delivery_id: id,
        event: event.event,
        at: event.at,
        lock_request: event.lockRequest,
      });
      this.waiting.push({ id, event, body });
      this.startDeliveries();
    }
  }

  /** Lets pending deliveries finish within the flush bound, then abandons the rest. */
  async onApplicationShutdown(): Promise<void> {
    this.accepting = false;
    if (!(await this.settledWithin(this.options.flushMs))) {
      for (const delivery of this.waiting.splice(0)) {
        this.lost(delivery.id, delivery.event, 'abandoned', 'not sent before shutdown');
      }
      this.stopping.abort();
      await this.settled();
    }
    await this.http.close();
  }

  private startDeliveries(): void {
    while (this.sending.size < this.options.concurrency) {
      const index = this.waiting.findIndex(
        (delivery) => !this.sending.has(delivery.event.lockRequest.id),
      );
      if (index < 0) return;
      const [delivery] = this.waiting.splice(index, 1);
      const lockRequestId = delivery.event.lockRequest.id;
      this.sending.add(lockRequestId);
      void this.deliver(delivery).finally(() => {
        this.sending.delete(lockRequestId);
        this.startDeliveries();
        if (this.sending.size === 0 && this.waiting.length === 0) {
          for (const resolve of this.settledWaiters.splice(0)) resolve();
        }
      });
    }
  }

  /** Tries until delivered, refused for good, out of tries or stopped. Never rejects. */
  private async deliver(delivery: Delivery): Promise<void> {
    const signal = this.stopping.signal;
    let backoff: IBackoff<unknown> | undefined;
    for (let attempt = 1; ; attempt++) {
      const failure = await this.tryOnce(delivery, signal);
      if (failure === undefined) {
        this.metrics.notifications.inc({ result: 'delivered' });
        return;
      }
      const because = `${failure.reason} (try ${attempt} of ${this.options.attempts})`;
      if (signal.aborted) return this.lost(delivery.id, delivery.event, 'abandoned', because);
      if (!failure.retryable || attempt >= this.options.attempts) {
        return this.lost(delivery.id, delivery.event, 'failed', because);
      }
      backoff = backoff === undefined ? this.backoff.next() : backoff.next(undefined);
      try {
        await sleep(backoff.duration, undefined, { signal });
      } catch {
        return this.lost(delivery.id, delivery.event, 'abandoned', because);
      }
    }
  }

  private async tryOnce(delivery: Delivery, stop: AbortSignal): Promise<TryFailure | undefined> {
    try {
      const answer = await this.http.request({
        method: 'POST',
        url: this.webhook.url,
        headers: {
          'user-agent': 'vault-lock-gateway',
          'x-delivery-id': delivery.id,
          'x-signature': this.webhook.secret.sign(delivery.body),
        },
        body: delivery.body,
        signal: AbortSignal.any([stop, AbortSignal.timeout(this.options.timeoutMs)]),
      });
      if (answer.status >= 200 && answer.status < 300) return undefined;
      return new TryFailure(`answered ${answer.status}`, RETRYABLE_STATUSES.has(answer.status));
    } catch (error) {
      if (!(error instanceof TransportFailure)) throw error;
      const { fault } = error;
      return new TryFailure(fault.kind === 'network' ? `network ${fault.code}` : fault.kind, true);
    }
  }

  private lost(id: string, event: LockRequestEvent, result: DeliveryResult, reason: string): void {
    this.metrics.notifications.inc({ result });
    this.logger.warn(
      `Notification ${id} (${event.event} of lock request ${event.lockRequest.id}) to ${this.origin} ${result}: ${reason}`,
    );
  }

  private settled(): Promise<void> {
    if (this.sending.size === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private async settledWithin(ms: number): Promise<boolean> {
    const timer = new AbortController();
    try {
      return await Promise.race([
        this.settled().then(() => true),
        sleep(ms, false, { signal: timer.signal }),
      ]);
    } finally {
      timer.abort();
    }
  }
}
