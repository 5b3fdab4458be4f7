import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
} from '@opentelemetry/semantic-conventions';
import type { Tracing } from '../tracing/tracing.js';
import type { Clock } from './clock.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import {
  TransportFailure,
  type TransportFault,
  type UpstreamAnswer,
  type UpstreamRequest,
  UpstreamHttp,
} from './upstream-http.js';

export type UpstreamService = 'iam' | 'taurusdb';

/** The attributes of an upstream attempt's span that the gateway names itself. */
const UPSTREAM_ATTRIBUTES = {
  service: 'gateway.upstream.service',
  operation: 'gateway.upstream.operation',
} as const;

/**
 * How one attempt ended, as the `status` label of `gateway_upstream_requests_total`: the HTTP
 * status, or why no answer came. `unreachable` was provably never sent; `connection-lost` may
 * have reached the upstream, which is what makes a write's outcome unknown.
 */
export function attemptStatus(fault: TransportFault): string {
  switch (fault.kind) {
    case 'timeout':
    case 'oversized':
      return fault.kind;
    case 'network':
      return fault.requestSent ? 'connection-lost' : 'unreachable';
  }
}

/**
 * Every HTTP attempt to one upstream service (IAM, TaurusDB), made, timed, counted and traced
 * the same way: one series per operation and status, one duration per operation, one client
 * span whose W3C `traceparent` goes with the request. What a failure means (retry, refuse,
 * unknown outcome) stays with the client; how it is told apart is here.
 */
export class UpstreamAttempts {
  private readonly http: UpstreamHttp;

  constructor(
    private readonly service: UpstreamService,
    timeoutMs: number,
    private readonly metrics: GatewayMetrics,
    private readonly clock: Clock,
    private readonly tracing: Tracing,
  ) {
    this.http = new UpstreamHttp(timeoutMs);
  }

  /** One attempt, its answer read in full. Rejects only with TransportFailure. */
  send(operation: string, request: UpstreamRequest): Promise<UpstreamAnswer> {
    const attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: request.method,
      [ATTR_SERVER_ADDRESS]: new URL(request.url).hostname,
      [UPSTREAM_ATTRIBUTES.service]: this.service,
      [UPSTREAM_ATTRIBUTES.operation]: operation,
    };
    return this.tracing.inSpan(
      `${this.service} ${operation}`,
      attributes,
      async (span) => {
        const started = this.clock.monotonicMs();
        let status = 'error';
        try {
          const answer = await this.http.request({
            ...request,
            headers: { ...request.headers, ...this.tracing.traceContextHeaders() },
          });
          status = String(answer.status);
          span.setAttributes({ [ATTR_HTTP_RESPONSE_STATUS_CODE]: answer.status });
          return answer;
        } catch (error) {
          if (error instanceof TransportFailure) status = attemptStatus(error.fault);
          throw error;
        } finally {
          const labels = { service: this.service, operation };
          this.metrics.upstreamRequests.inc({ ...labels, status });
          this.metrics.upstreamDuration.observe(
            labels,
            (this.clock.monotonicMs() - started) / 1000,
          );
        }
      },
      'client',
    );
  }

  /** An attempt turned away before it was sent (an open circuit), so operators still see it. */
  countNotSent(operation: string, reason: 'circuit-open'): void {
    this.metrics.upstreamRequests.inc({ service: this.service, operation, status: reason });
  }

  /** Lets attempts in flight finish (each is bounded by its deadline), then closes. */
  close(): Promise<void> {
    return this.http.close();
  }
}
