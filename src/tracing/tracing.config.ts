import { registerAs } from '@nestjs/config';
import { IsIn, IsNumber, IsOptional, IsString, IsUrl, Max, MaxLength, Min } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';

const OTLP_URL = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };
export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
/** The one exporter built in sends JSON over HTTP, which every OTLP/HTTP receiver accepts. */
const JSON_ONLY = {
  message: '$property must be http/json: the gateway sends OTLP as JSON over HTTP',
};
export type TraceSamplerName = (typeof TRACE_SAMPLERS)[number];

/**
 * The standard OpenTelemetry variables the gateway reads itself. The exporter reads the rest
 * (`OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT`, `_COMPRESSION`), the batch processor its
 * `OTEL_BSP_*`, and the resource `OTEL_RESOURCE_ATTRIBUTES`, as the specification says.
 */
class TracingEnv {
  @IsOptional() @IsIn(['true', 'false']) OTEL_SDK_DISABLED?: string;
  @IsOptional() @IsUrl(OTLP_URL) OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  @IsOptional() @IsUrl(OTLP_URL) OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  /** Only OTLP is built in; `none` turns tracing off like an unset endpoint. */
  @IsOptional() @IsIn(['otlp', 'none']) OTEL_TRACES_EXPORTER?: string;
  @IsOptional() @IsIn(['http/json'], JSON_ONLY) OTEL_EXPORTER_OTLP_PROTOCOL?: string;
  @IsOptional() @IsIn(['http/json'], JSON_ONLY) OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?: string;
  @IsOptional() @IsString() @MaxLength(255) OTEL_SERVICE_NAME?: string;
  @IsOptional() @IsIn(TRACE_SAMPLERS) OTEL_TRACES_SAMPLER?: string;
  @IsOptional() @IsNumber() @Min(0) @Max(1) OTEL_TRACES_SAMPLER_ARG?: number;
}

export const DEFAULT_SERVICE_NAME = 'vault-lock-gateway';

export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP, JSON); null when tracing is off. */
  tracesUrl: string | null;
  serviceName: string;
  sampler: TraceSamplerName;
  /** The share of traces kept by the ratio samplers. */
  samplerRatio: number;
}

/**
 * The specification's rule: the signal's own endpoint is used as it is; the general one is a
 * base URL that the signal's path is appended to.
 */
function tracesUrlOf(env: TracingEnv): string | null {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return null;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  }
  return null;
}

/** Off unless an exporter endpoint is set: then nothing is registered and spans are no-ops. */
export const tracingConfig = registerAs('tracing', (): TracingConfig => {
  const env = validateEnv(process.env, TracingEnv);
  return {
    tracesUrl: tracesUrlOf(env),
    serviceName: env.OTEL_SERVICE_NAME ?? DEFAULT_SERVICE_NAME,
    sampler: (env.OTEL_TRACES_SAMPLER as TraceSamplerName | undefined) ?? 'parentbased_always_on',
    samplerRatio: env.OTEL_TRACES_SAMPLER_ARG ?? 1,
  };
});
