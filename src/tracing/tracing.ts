import { Inject, Injectable } from '@nestjs/common';
import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import { tracingConfig, type TracingConfig } from './tracing.config.js';

const TRACER_NAME = 'vault-lock-gateway';

/** Attribute values: never a token, a secret or a message that could hold one. */
export type SpanAttributes = Record<string, string | number | boolean>;

/** What the code inside a span may add to it. */
export interface TraceSpan {
  setAttributes(attributes: SpanAttributes): void;
}

/** A request's server span: started when it arrives, ended with what its answer was. */
export interface IncomingSpan {
  /** Runs `work` (and whatever it starts) with this span as the current one. */
  run<T>(work: () => T): T;
  end(attributes: SpanAttributes, failed: boolean): void;
}

const SPAN_KINDS = { internal: SpanKind.INTERNAL, client: SpanKind.CLIENT } as const;

/** What the code inside a span is handed while tracing is off. */
const NO_SPAN: TraceSpan = { setAttributes: () => undefined };

/** Tracing's state when no exporter endpoint is configured, and in specs that build the port. */
const TRACING_OFF: Pick<TracingConfig, 'tracesUrl'> = { tracesUrl: null };

/**
 * Why a span failed, by kind only: the error's code or class, never its message, which may
 * quote an upstream's answer.
 */
function errorTypeOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return typeof error;
  for (const key of ['errorCode', 'code'] as const) {
    const value = (error as Record<string, unknown>)[key];
    if (typeof value === 'string') return value;
  }
  return error instanceof Error ? error.name : 'unknown';
}

function markFailed(span: Span, error: unknown): void {
  span.setAttribute(ATTR_ERROR_TYPE, errorTypeOf(error));
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/**
 * The gateway's one way to trace: spans, the current trace id and the W3C trace context for
 * upstream calls, through the OpenTelemetry API. With tracing off (no exporter endpoint, so the
 * tracing module registers no provider) the work runs as it is, without even the API's no-op
 * spans: they sit on every call's path.
 */
@Injectable()
export class Tracing {
  private readonly tracer = trace.getTracer(TRACER_NAME);
  private readonly enabled: boolean;

  constructor(@Inject(tracingConfig.KEY) config: Pick<TracingConfig, 'tracesUrl'> = TRACING_OFF) {
    this.enabled = config.tracesUrl !== null;
  }

  /**
   * Runs `work` in a span, a child of the current one, ended when `work` returns or its promise
   * settles; a throw or rejection marks it failed.
   */
  inSpan<T>(
    name: string,
    attributes: SpanAttributes,
    work: (span: TraceSpan) => T,
    kind: keyof typeof SPAN_KINDS = 'internal',
  ): T {
    if (!this.enabled) return work(NO_SPAN);
    return this.spanned(name, { kind: SPAN_KINDS[kind], attributes }, work);
  }

  /**
   * Runs a unit of background work in a trace of its own, whatever the context it was started
   * from (a timer set during a call would otherwise make it part of that call's trace).
   */
  inRootSpan<T>(name: string, attributes: SpanAttributes, work: (span: TraceSpan) => T): T {
    if (!this.enabled) return work(NO_SPAN);
    return this.spanned(name, { kind: SpanKind.INTERNAL, attributes, root: true }, work);
  }

  private spanned<T>(name: string, options: SpanOptions, work: (span: TraceSpan) => T): T {
    return this.tracer.startActiveSpan(name, options, (span) => {
      const failed = (error: unknown) => {
        markFailed(span, error);
        span.end();
        throw error;
      };
      try {
        const result = work(span);
        if (result instanceof Promise) {
          return result.then((value: unknown) => {
            span.end();
            return value;
          }, failed) as T;
        }
        span.end();
        return result;
      } catch (error) {
        return failed(error);
      }
    });
  }

  /**
   * A request's server span, the child of the trace context its headers carry, if any;
   * undefined while tracing is off.
   */
  startIncoming(
    name: string,
    headers: Record<string, string | string[] | undefined>,
    attributes: SpanAttributes,
  ): IncomingSpan | undefined {
    if (!this.enabled) return undefined;
    const parent = propagation.extract(ROOT_CONTEXT, headers);
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    const current: Context = trace.setSpan(parent, span);
    return {
      run: (work) => context.with(current, work),
      end: (final, failed) => {
        span.setAttributes(final as Attributes);
        if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    };
  }

  /** `traceparent` (and `tracestate`) naming the current span, for a call to an upstream. */
  traceContextHeaders(): Record<string, string> {
    const headers: Record<string, string> = {};
    if (!this.enabled) return headers;
    propagation.inject(context.active(), headers);
    return headers;
  }

  /** The current trace's id, or null outside any trace (always, with tracing off). */
  currentTraceId(): string | null {
    return currentTraceIds()?.traceId ?? null;
  }
}

/**
 * The ids a log line carries, read from the current span: null outside one. A function of its
 * own because the logger is built before any injectable exists.
 */
export function currentTraceIds(): { traceId: string; spanId: string } | null {
  const spanContext = trace.getSpan(context.active())?.spanContext();
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return null;
  return { traceId: spanContext.traceId, spanId: spanContext.spanId };
}
