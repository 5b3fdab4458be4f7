import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import {
  ApiErrorResponses,
  AUTHENTICATED_ROUTE_ERRORS,
  answerHeaders,
  ErrorCases,
  type ErrorCase,
} from '../common/api-responses.js';
import { callContextOf, type GatewayRequest } from '../common/gateway-request.js';
import { lockRequestJson, type LockRequestJson } from '../notifications/lock-request-notifier.js';
import {
  DenyLockRequestDto,
  LockRequestCommentDto,
  LockRequestDto,
  LockRequestPathDto,
  LockRequestsPageDto,
  LockRequestsQueryDto,
} from './dto/lock-request-rest.dto.js';
import type { RecordedTransition } from './lock-request-recorder.js';
import { LOCK_REQUEST_LIST_DEFAULT_LIMIT, LockRequestsService } from './lock-requests.service.js';

/** What approve, deny and cancel can answer besides the route's own errors. */
const TRANSITION_ERRORS: readonly ErrorCase[] = [
  ...AUTHENTICATED_ROUTE_ERRORS,
  ErrorCases.bodyTooLarge,
  ErrorCases.notJson,
  ErrorCases.notAnApprover,
  ErrorCases.lockRequestNotFound,
  ErrorCases.requestClosed,
  ErrorCases.requestChanged,
  ErrorCases.auditUnavailable,
];

const APPROVER_ERRORS: readonly ErrorCase[] = [
  ...TRANSITION_ERRORS,
  ErrorCases.selfApproval,
  ErrorCases.alreadyDecided,
];

/** Lock requests (DESIGN §6): read them, and approve, deny or cancel one. */
@ApiTags('lock-requests')
@Controller('v1/lock-requests')
export class LockRequestsController {
  constructor(private readonly lockRequests: LockRequestsService) {}

  @Get()
  @ApiOperation({
    summary:
      'Lock requests, newest first: mine, awaiting my approval, or (auditor group) every request',
  })
  @ApiOkResponse({ type: LockRequestsPageDto, headers: answerHeaders() })
  @ApiErrorResponses([
    ...AUTHENTICATED_ROUTE_ERRORS,
    ErrorCases.notAllLockRequests,
    ErrorCases.auditUnavailable,
  ])
  async list(@Query() query: LockRequestsQueryDto, @Req() req: GatewayRequest) {
    const page = await this.lockRequests.list(
      callContextOf(req, 'rest'),
      {
        state: query.state,
        projectId: query.project_id,
        instanceId: query.instance_id,
        awaitingMyApproval: query.awaiting_my_approval === 'true',
        mine: query.mine === 'true',
      },
      query.limit ?? LOCK_REQUEST_LIST_DEFAULT_LIMIT,
      query.cursor,
    );
    return { lock_requests: page.requests.map(lockRequestJson), next_cursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One lock request: for its requester, its approver groups and the auditor group',
  })
  @ApiOkResponse({ type: LockRequestDto, headers: answerHeaders() })
  @ApiErrorResponses([
    ...AUTHENTICATED_ROUTE_ERRORS,
    ErrorCases.lockRequestNotFound,
    ErrorCases.auditUnavailable,
  ])
  async get(@Param() path: LockRequestPathDto, @Req() req: GatewayRequest) {
    return lockRequestJson(await this.lockRequests.get(callContextOf(req, 'rest'), path.id));
  }

  @Post(':id/approve')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Approve: a member of an approver group who is not the requester, once',
  })
  @ApiOkResponse({ type: LockRequestDto, headers: answerHeaders({ auditId: true }) })
  @ApiErrorResponses(APPROVER_ERRORS, { auditId: true })
  async approve(
    @Param() path: LockRequestPathDto,
    @Body() body: LockRequestCommentDto,
    @Req() req: GatewayRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const ctx = callContextOf(req, 'rest');
    return answer(reply, await this.lockRequests.approve(ctx, path.id, body.comment ?? null));
  }

  @Post(':id/deny')
  @HttpCode(200)
  @ApiOperation({ summary: 'Deny, saying why: one approver’s deny ends the request' })
  @ApiOkResponse({ type: LockRequestDto, headers: answerHeaders({ auditId: true }) })
  @ApiErrorResponses(APPROVER_ERRORS, { auditId: true })
  async deny(
    @Param() path: LockRequestPathDto,
    @Body() body: DenyLockRequestDto,
    @Req() req: GatewayRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const ctx = callContextOf(req, 'rest');
    return answer(reply, await this.lockRequests.deny(ctx, path.id, body.comment));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel: the requester or an approver, before execution starts' })
  @ApiOkResponse({ type: LockRequestDto, headers: answerHeaders({ auditId: true }) })
  @ApiErrorResponses(TRANSITION_ERRORS, { auditId: true })
  async cancel(
    @Param() path: LockRequestPathDto,
    @Body() body: LockRequestCommentDto,
    @Req() req: GatewayRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const ctx = callContextOf(req, 'rest');
    return answer(reply, await this.lockRequests.cancel(ctx, path.id, body.comment ?? null));
  }
}

function answer(reply: FastifyReply, transition: RecordedTransition): LockRequestJson {
  void reply.header('x-audit-id', transition.auditId);
  return lockRequestJson(transition.request);
}
