import { Controller, Get, Post, Query, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  ApiErrorResponses,
  AUTHENTICATED_ROUTE_ERRORS,
  answerHeaders,
  ErrorCases,
} from '../common/api-responses.js';
import { callContextOf, type GatewayRequest } from '../common/gateway-request.js';
import { CheckpointsService, type CheckpointView } from './checkpoints.service.js';
import {
  AuditCheckpointDto,
  AuditCheckpointKeyDto,
  AuditCheckpointsPageDto,
} from './dto/audit-checkpoint.dto.js';
import { AuditCheckpointsQueryDto } from './dto/audit-checkpoints.query.js';
import { CHECKPOINT_LIST_DEFAULT_LIMIT } from './dto/checkpoint-limits.js';

function toRestCheckpoint(checkpoint: CheckpointView): AuditCheckpointDto {
  return {
    position: checkpoint.position,
    seq: checkpoint.seq,
    hash: checkpoint.hash,
    rows: checkpoint.rows,
    time: checkpoint.time,
    prev_checkpoint: checkpoint.prevCheckpoint,
    key_id: checkpoint.keyId,
    signature: checkpoint.signature,
    file_name: checkpoint.fileName,
  };
}

@ApiTags('audit')
@Controller('v1/audit-checkpoints')
export class CheckpointsController {
  constructor(private readonly checkpoints: CheckpointsService) {}

  @Get()
  @ApiOperation({ summary: 'Signed audit checkpoints, newest first (auditor group only)' })
  @ApiOkResponse({ type: AuditCheckpointsPageDto, headers: answerHeaders() })
  @ApiErrorResponses([
    ...AUTHENTICATED_ROUTE_ERRORS,
    ErrorCases.notAuditor,
    ErrorCases.auditUnavailable,
  ])
  async list(@Query() query: AuditCheckpointsQueryDto, @Req() req: GatewayRequest) {
    const { principal } = callContextOf(req, 'rest');
    const page = await this.checkpoints.list(
      principal,
      query.limit ?? CHECKPOINT_LIST_DEFAULT_LIMIT,
      query.cursor,
    );
    return { checkpoints: page.checkpoints.map(toRestCheckpoint), next_cursor: page.nextCursor };
  }

  @Post()
  @ApiOperation({ summary: 'Write a signed audit checkpoint now (auditor group only)' })
  @ApiCreatedResponse({ type: AuditCheckpointDto, headers: answerHeaders() })
  @ApiErrorResponses([
    ...AUTHENTICATED_ROUTE_ERRORS,
    ErrorCases.notAuditor,
    ErrorCases.auditUnavailable,
  ])
  async create(@Req() req: GatewayRequest) {
    const { principal } = callContextOf(req, 'rest');
    return toRestCheckpoint(await this.checkpoints.create(principal));
  }

  @Get('public-key')
  @ApiOperation({ summary: 'The key checkpoints are verified with (auditor group only)' })
  @ApiOkResponse({ type: AuditCheckpointKeyDto, headers: answerHeaders() })
  @ApiErrorResponses([...AUTHENTICATED_ROUTE_ERRORS, ErrorCases.notAuditor])
  publicKey(@Req() req: GatewayRequest): AuditCheckpointKeyDto {
    const { keyId, publicKeyPem } = this.checkpoints.publicKey(
      callContextOf(req, 'rest').principal,
    );
    return { key_id: keyId, public_key_pem: publicKeyPem };
  }
}
