import {
  applyDecorators,
  Controller,
  Get,
  Header,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiServiceUnavailableResponse,
  ApiTags,
  type SecurityRequirementObject,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { AuditTrail } from '../audit/audit-trail.js';
import { IamTokenExchange } from '../auth/iam/iam-token-exchange.js';
import { Public } from '../auth/public.decorator.js';
import { answerHeaders } from '../common/api-responses.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { PolicyStore } from '../policy/policy-store.js';
import { RedisConnection } from '../redis/redis-connection.js';
import { TaurusDbClient } from '../taurusdb/taurusdb-client.js';
import { HealthReportDto } from './dto/health-report.dto.js';

/**
 * Readiness probes are cached and time-boxed: a burst of probes from a load balancer costs at
 * most one check of each dependency per few seconds, and a hung dependency cannot hang them.
 */
const PROBE_TTL_MS = 5_000;
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Terminus documents the route itself only where it can `require` the ESM-only
 * `@nestjs/swagger`: Node can, jest's module loader on Node 20 cannot, so the document the
 * tests see would differ from the one the gateway serves. The routes are documented here.
 */
const HEALTH_CHECK = { noCache: true, swaggerDocumentation: false };

/** These routes are @Public(): the document says so by overriding its bearer requirement. */
const PUBLIC: SecurityRequirementObject[] = [];

const ApiHealthReport = (down: string) =>
  applyDecorators(
    ApiOkResponse({
      type: HealthReportDto,
      description: 'Every check is up',
      headers: answerHeaders(),
    }),
    ApiServiceUnavailableResponse({
      type: HealthReportDto,
      description: down,
      headers: answerHeaders(),
    }),
  );

@Public()
@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly policy: PolicyStore,
    private readonly audit: AuditTrail,
    private readonly iam: IamTokenExchange,
    private readonly taurusDb: TaurusDbClient,
    private readonly metrics: GatewayMetrics,
    private readonly redis: RedisConnection,
  ) {}

  @Get('health/live')
  @HealthCheck(HEALTH_CHECK)
  @ApiOperation({
    summary: 'Liveness: the process answers and its audit writer runs',
    security: PUBLIC,
  })
  @ApiHealthReport('The audit writer thread stopped; only a restart recovers')
  live(@Res({ passthrough: true }) reply: FastifyReply) {
    return this.report(reply, () =>
      this.health.check([
        () =>
          this.audit.isAlive()
            ? this.indicators.check('audit').up()
            : this.indicators.check('audit').down('audit writer stopped; only a restart recovers'),
      ]),
    );
  }

  @Get('health/ready')
  @HealthCheck(HEALTH_CHECK)
  @ApiOperation({
    summary: 'Readiness: policy loaded, audit store writable, IAM and TaurusDB reachable',
    security: PUBLIC,
  })
  @ApiHealthReport('A check is down; the report names it')
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const [report, redis] = await Promise.all([
      this.report(reply, () => this.checkReadiness()),
      this.checkRedis(),
    ]);
    return redis === undefined ? report : withSharedState(report as HealthReport, redis);
  }

  /**
   * Terminus reports "down" by throwing; the report itself is the answer operators need, so it
   * is sent as the 503 body instead of going through the gateway's error shape.
   */
  private async report(reply: FastifyReply, check: () => Promise<unknown>) {
    try {
      return await check();
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503);
      return error.getResponse();
    }
  }

  private checkReadiness() {
    return this.health.check([
      () =>
        this.policy.isReady()
          ? this.indicators.check('policy').up({ version: this.policy.current().version })
          : this.indicators.check('policy').down('no policy loaded'),
      () => this.probe('audit', () => this.audit.checkWritable()),
      () => this.probe('iam', () => this.iam.ping()),
      () => this.probe('taurusdb', () => this.taurusDb.ping()),
    ]);
  }

  /**
   * Redis holds only what this process can stand in for (token cache, exchange lock, rate
   * counters), so its loss degrades the gateway without making it unready.
   */
  private async checkRedis(): Promise<HealthIndicatorResult<'redis'> | undefined> {
    if (!this.redis.configured) return undefined;
    // Not cached: a PING costs little, and a disconnected client fails it without a round trip.
    return this.indicators
      .check('redis')
      .attempt(() => this.redis.ping())
      .withTimeout(PROBE_TIMEOUT_MS);
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics, text format', security: PUBLIC })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    schema: { type: 'string' },
    description: 'Prometheus text exposition format 0.0.4',
    headers: answerHeaders(),
  })
  metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }

  private probe(key: string, check: () => Promise<void>) {
    return this.indicators
      .check(key)
      .attempt(() => check())
      .withTimeout(PROBE_TIMEOUT_MS)
      .cacheFor(PROBE_TTL_MS);
  }
}

interface HealthReport {
  status: string;
  info?: Record<string, unknown>;
  error?: Record<string, unknown>;
  details: Record<string, unknown>;
}

/** Adds the Redis check to a readiness report: down turns an `ok` report into `degraded`. */
function withSharedState(report: HealthReport, redis: HealthIndicatorResult<'redis'>) {
  const up = redis.redis.status === 'up';
  const section = up ? 'info' : 'error';
  return {
    ...report,
    status: !up && report.status === 'ok' ? 'degraded' : report.status,
    [section]: { ...report[section], ...redis },
    details: { ...report.details, ...redis },
  };
}
