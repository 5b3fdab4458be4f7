import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { tracingConfig, type TracingConfig } from './tracing.config.js';

function samplerOf(config: TracingConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
  }
}

/**
 * Registers the process's tracer provider when an exporter endpoint is configured: an
 * AsyncLocalStorage context manager, the W3C trace context propagator, and spans batched to
 * the OTLP/HTTP endpoint. Without one it registers nothing. At shutdown, after the HTTP server
 * has closed, the spans still queued are sent.
 */
@Injectable()
export class TracerRegistration implements OnApplicationShutdown {
  private readonly logger = new Logger(TracerRegistration.name);
  private readonly provider: NodeTracerProvider | null = null;

  constructor(@Inject(tracingConfig.KEY) config: TracingConfig) {
    if (config.tracesUrl === null) return;
    // `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` win over the gateway's own name.
    const resource = defaultResource()
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }))
      .merge(detectResources({ detectors: [envDetector] }));
    this.provider = new NodeTracerProvider({
      resource,
      sampler: samplerOf(config),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.tracesUrl }))],
    });
    this.provider.register();
    this.logger.log(`traces exported to ${new URL(config.tracesUrl).origin}`);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.provider === null) return;
    await this.provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  }
}
