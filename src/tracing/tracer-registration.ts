import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { context, propagation, trace } from '@opentelemetry/api';
import type { NodeTracerProvider, Sampler } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { tracingConfig, type TracingConfig } from './tracing.config.js';

type TraceSdk = typeof import('@opentelemetry/sdk-trace-node');

function samplerOf(sdk: TraceSdk, config: TracingConfig): Sampler {
  const ratio = new sdk.TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: ratio });
  }
}

/**
 * Registers the process's tracer provider when an exporter endpoint is configured: an
 * AsyncLocalStorage context manager, the W3C trace context propagator, and spans batched to
 * the OTLP/HTTP endpoint. Without one it registers nothing, and the SDK and its exporter are
 * never loaded: they are most of what tracing weighs in start-up time and memory. At shutdown,
 * after the HTTP server has closed, the spans still queued are sent.
 */
@Injectable()
export class TracerRegistration implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(TracerRegistration.name);
  private provider: NodeTracerProvider | null = null;

  constructor(@Inject(tracingConfig.KEY) private readonly config: TracingConfig) {}

  async onModuleInit(): Promise<void> {
    const { tracesUrl } = this.config;
    if (tracesUrl === null) return;
    const [sdk, { OTLPTraceExporter }, resources, { W3CTraceContextPropagator }] =
      await Promise.all([
        import('@opentelemetry/sdk-trace-node'),
        import('@opentelemetry/exporter-trace-otlp-http'),
        import('@opentelemetry/resources'),
        import('@opentelemetry/core'),
      ]);
    // `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` win over the gateway's own name.
    const resource = resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ [ATTR_SERVICE_NAME]: this.config.serviceName }))
      .merge(resources.detectResources({ detectors: [resources.envDetector] }));
    this.provider = new sdk.NodeTracerProvider({
      resource,
      sampler: samplerOf(sdk, this.config),
      spanProcessors: [new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl }))],
    });
    // Trace context only: the SDK's default adds W3C baggage, which would carry whatever a caller
    // put in its `baggage` header on to IAM and TaurusDB.
    this.provider.register({ propagator: new W3CTraceContextPropagator() });
    this.logger.log(`traces exported to ${new URL(tracesUrl).origin}`);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.provider === null) return;
    await this.provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  }
}
