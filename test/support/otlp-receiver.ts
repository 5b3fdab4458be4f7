import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as OTLP/HTTP's JSON encoding carries it, attributes flattened to their values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
}

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: { spans: (Omit<ReceivedSpan, 'attributes'> & { attributes: OtlpAttribute[] })[] }[];
  }[];
}

const flatten = (attributes: OtlpAttribute[]): Record<string, unknown> =>
  Object.fromEntries(attributes.map(({ key, value }) => [key, Object.values(value)[0]]));

/**
 * What a collector's OTLP/HTTP receiver is to the gateway: `POST /v1/traces` with JSON, answered
 * 200. It counts every span; with `keep`, it also keeps them and the bodies they came in (a test
 * reads them; a benchmark only counts, so that a long run holds nothing).
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly bodies: string[] = [];
  readonly serviceNames = new Set<unknown>();
  spansReceived = 0;
  private readonly server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/traces') {
        response.writeHead(404).end();
        return;
      }
      this.receive(body);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  constructor(private readonly keep: boolean) {}

  /** Listens on a free loopback port; resolves with the base URL (an `OTEL_EXPORTER_OTLP_ENDPOINT`). */
  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private receive(body: string): void {
    for (const { resource, scopeSpans } of (JSON.parse(body) as OtlpExport).resourceSpans) {
      const spans = scopeSpans.flatMap((scope) => scope.spans);
      this.spansReceived += spans.length;
      if (!this.keep) continue;
      this.serviceNames.add(flatten(resource.attributes)['service.name']);
      this.spans.push(...spans.map((span) => ({ ...span, attributes: flatten(span.attributes) })));
    }
    if (this.keep) this.bodies.push(body);
  }
}
