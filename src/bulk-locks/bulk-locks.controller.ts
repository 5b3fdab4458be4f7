import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import {
  ApiErrorResponses,
  AUTHENTICATED_ROUTE_ERRORS,
  answerHeaders,
  ErrorCases,
} from '../common/api-responses.js';
import { callContextOf, type GatewayRequest } from '../common/gateway-request.js';
import {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENCY_KEY_PATTERN,
  IdempotencyKeyHeader,
} from '../idempotency/idempotency-key.js';
import { BulkLocksService, type BulkLockJobView } from './bulk-locks.service.js';
import {
  BulkLockAcceptedDto,
  BulkLockJobDto,
  BulkLockPathDto,
  CreateBulkLockDto,
} from './dto/bulk-lock-rest.dto.js';

/** Bulk locks (DESIGN §7): start a job, and read its progress and per-instance results. */
@ApiTags('bulk-locks')
@Controller('v1/bulk-locks')
export class BulkLocksController {
  constructor(private readonly bulkLocks: BulkLocksService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Lock every instance the selector picks, each through the same use case as the single PUT, in the background',
  })
  @ApiHeader({
    name: IDEMPOTENCY_KEY_HEADER,
    required: false,
    description:
      "1-255 printable ASCII characters, chosen by the caller. The same key with the same request answers the caller's first job with this key; with a different request, 422",
    schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source, maxLength: 255 },
  })
  @ApiAcceptedResponse({
    type: BulkLockAcceptedDto,
    description: 'The job is stored with one item per instance the selector picked',
    headers: answerHeaders({ location: true }),
  })
  @ApiErrorResponses([
    ...AUTHENTICATED_ROUTE_ERRORS,
    ErrorCases.bodyTooLarge,
    ErrorCases.notJson,
    ErrorCases.iamRefused,
    ErrorCases.upstreamRefused,
    ErrorCases.upstreamThrottled,
    ErrorCases.upstreamFailed,
    ErrorCases.upstreamUnavailable,
    ErrorCases.upstreamTimeout,
    ErrorCases.auditUnavailable,
    ErrorCases.idempotencyKeyReused,
  ])
  async create(
    @Body() body: CreateBulkLockDto,
    @IdempotencyKeyHeader() idempotencyKey: string | undefined,
    @Req() req: GatewayRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BulkLockAcceptedDto> {
    const job = await this.bulkLocks.create(
      callContextOf(req, 'rest'),
      {
        projectId: body.project_id,
        selector: {
          enterpriseProjectIds: body.selector.enterprise_project_ids,
          tags: body.selector.tags?.map(({ key, value }) => ({ key, value })),
        },
        action: body.action,
        retentionDays: body.lock_retention_days,
        dryRun: body.dry_run ?? false,
      },
      idempotencyKey ?? null,
      IDEMPOTENCY_KEY_HEADER,
    );
    void reply.header('location', `/v1/bulk-locks/${job.id}`);
    return { id: job.id, state: job.state, request_id: job.requestId };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A bulk job and its items: for its creator and the auditor group' })
  @ApiOkResponse({ type: BulkLockJobDto, headers: answerHeaders() })
  @ApiErrorResponses([...AUTHENTICATED_ROUTE_ERRORS, ErrorCases.bulkJobNotFound])
  async get(@Param() path: BulkLockPathDto, @Req() req: GatewayRequest): Promise<BulkLockJobDto> {
    return bulkLockJobJson(await this.bulkLocks.get(callContextOf(req, 'rest'), path.id));
  }
}

function bulkLockJobJson(job: BulkLockJobView): BulkLockJobDto {
  return {
    id: job.id,
    state: job.state,
    total: job.total,
    done: job.done,
    items: job.items.map((item) => ({
      instance_id: item.instanceId,
      state: item.state,
      result: item.result,
      error_code: item.errorCode,
      audit_id: item.auditId,
      lock_request_id: item.lockRequestId,
    })),
  };
}
