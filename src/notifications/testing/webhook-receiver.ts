import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedNotification {
  headers: IncomingHttpHeaders;
  /** The body parsed; `raw` is what the signature was checked against. */
  body: Record<string, unknown>;
  raw: string;
  signatureValid: boolean;
}

/**
 * A webhook receiver on 127.0.0.1 that checks `X-Signature` as the README tells receivers to:
 * HMAC-SHA256 of the raw body bytes, compared in constant time. A bad signature gets 401.
 */
export class WebhookReceiver {
  readonly received: ReceivedNotification[] = [];
  /** Statuses for the next answers, in order; 204 once they are used up. */
  private readonly statuses: number[] = [];
  private held: Promise<void> | undefined;
  private releaseHeld: (() => void) | undefined;
  private readonly arrivals: { count: number; resolve: () => void }[] = [];

  private constructor(
    private readonly server: Server,
    private readonly secret: string,
  ) {}

  static async start(secret: string): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server, secret);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const raw = Buffer.concat(chunks);
        const signatureValid = receiver.signatureMatches(raw, request.headers['x-signature']);
        receiver.record({
          headers: request.headers,
          body: JSON.parse(raw.toString('utf8')) as Record<string, unknown>,
          raw: raw.toString('utf8'),
          signatureValid,
        });
        const status = signatureValid ? (receiver.statuses.shift() ?? 204) : 401;
        void (receiver.held ?? Promise.resolve()).then(() => response.writeHead(status).end());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** A URL nothing listens on: connections to it are refused. */
  static async refusedUrl(): Promise<string> {
    const receiver = await WebhookReceiver.start('unused');
    const url = receiver.url;
    await receiver.close();
    return url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/vault-lock?token=t0k3n`;
  }

  answerWith(...statuses: number[]): void {
    this.statuses.push(...statuses);
  }

  /** Answers nothing until `release` is called. */
  hold(): void {
    this.held = new Promise((resolve) => (this.releaseHeld = resolve));
  }

  release(): void {
    this.releaseHeld?.();
    this.held = undefined;
  }

  /** Resolves once this many requests have arrived in all. */
  arrived(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.arrivals.push({ count, resolve }));
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private record(notification: ReceivedNotification): void {
    this.received.push(notification);
    for (const waiter of this.arrivals.filter((w) => w.count <= this.received.length)) {
      waiter.resolve();
    }
  }

  private signatureMatches(raw: Buffer, header: string | string[] | undefined): boolean {
    const expected = Buffer.from(
      `sha256=${createHmac('sha256', this.secret).update(raw).digest('hex')}`,
    );
    const given = Buffer.from(typeof header === 'string' ? header : '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
