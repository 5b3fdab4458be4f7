import { tracingConfig } from './tracing.config.js';

describe('tracingConfig', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    for (const name of Object.keys(process.env)) {
      if (name.startsWith('OTEL_')) delete process.env[name];
    }
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  it('is off without an exporter endpoint, with the gateway as the service', () => {
    expect(tracingConfig()).toEqual({
      tracesUrl: null,
      serviceName: 'vault-lock-gateway',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
  });

  it('appends the traces path to the general endpoint and takes the traces endpoint as it is', () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = 'http://collector:4318/';
    expect(tracingConfig().tracesUrl).toBe('http://collector:4318/v1/traces');
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = 'https://traces.example.com/otlp/spans';
    expect(tracingConfig().tracesUrl).toBe('https://traces.example.com/otlp/spans');
  });

  it('stays off when the SDK is disabled or the exporter is none, endpoint or not', () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = 'http://collector:4318';
    process.env.OTEL_SDK_DISABLED = 'true';
    expect(tracingConfig().tracesUrl).toBeNull();
    process.env.OTEL_SDK_DISABLED = 'false';
    process.env.OTEL_TRACES_EXPORTER = 'none';
    expect(tracingConfig().tracesUrl).toBeNull();
    process.env.OTEL_TRACES_EXPORTER = 'otlp';
    expect(tracingConfig().tracesUrl).toBe('http://collector:4318/v1/traces');
  });

  it('takes the service name and the sampler from their variables', () => {
    process.env.OTEL_SERVICE_NAME = 'gateway-eu';
    process.env.OTEL_TRACES_SAMPLER = 'parentbased_traceidratio';
    process.env.OTEL_TRACES_SAMPLER_ARG = '0.25';
    expect(tracingConfig()).toMatchObject({
      serviceName: 'gateway-eu',
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    });
  });

  it.each([
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318', /OTEL_EXPORTER_OTLP_ENDPOINT: .*URL/],
    [
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      'ftp://collector/x',
      /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/,
    ],
    ['OTEL_SDK_DISABLED', 'yes', /OTEL_SDK_DISABLED: .*true, false/],
    ['OTEL_TRACES_EXPORTER', 'jaeger', /OTEL_TRACES_EXPORTER: .*otlp, none/],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc', /OTEL_EXPORTER_OTLP_PROTOCOL: .*http\/json/],
    ['OTEL_TRACES_SAMPLER', 'sometimes', /OTEL_TRACES_SAMPLER: /],
    ['OTEL_TRACES_SAMPLER_ARG', '1.5', /OTEL_TRACES_SAMPLER_ARG: .*1/],
  ])('refuses %s=%s, naming the variable', (name, value, message) => {
    process.env[name] = value;
    expect(() => tracingConfig()).toThrow(message);
  });
});
