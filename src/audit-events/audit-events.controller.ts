import { Controller, Get, Query, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AUDIT_COLUMNS, AUDIT_LIST_DEFAULT_LIMIT, type AuditEvent } from '../audit/audit-record.js';
import {
  ApiErrorResponses,
  AUTHENTICATED_ROUTE_ERRORS,
  answerHeaders,
  ErrorCases,
} from '../common/api-responses.js';
import { callContextOf, type GatewayRequest } from '../common/gateway-request.js';
import { AuditEventsService } from './audit-events.service.js';
import { AuditEventsPageDto } from './dto/audit-events-page.dto.js';
import { AuditEventsQueryDto } from './dto/audit-events.query.js';

/** REST speaks snake_case, like TaurusDB: the stored column names are the field names. */
function toRestEvent(event: AuditEvent): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(AUDIT_COLUMNS).map(([field, column]) => [
      column,
      event[field as keyof AuditEvent],
    ]),
  );
}

@ApiTags('audit')
@Controller('v1/audit-events')
export class AuditEventsController {
  constructor(private readonly auditEvents: AuditEventsService) {}

  @Get()
  @ApiOperation({ summary: 'The audit trail, newest first (auditor group only)' })
  @ApiOkResponse({
    type: AuditEventsPageDto,
    description: 'One page of audit rows',
    headers: answerHeaders(),
  })
  @ApiErrorResponses([
    ...AUTHENTICATED_ROUTE_ERRORS,
    ErrorCases.notAuditor,
    ErrorCases.auditUnavailable,
  ])
  async list(@Query() query: AuditEventsQueryDto, @Req() req: GatewayRequest) {
    const { principal } = callContextOf(req, 'rest');
    const page = await this.auditEvents.list(
      principal,
      {
        projectId: query.project_id,
        instanceId: query.instance_id,
        outcome: query.outcome,
        lockRequestId: query.lock_request_id,
        since: query.since,
        until: query.until,
      },
      query.limit ?? AUDIT_LIST_DEFAULT_LIMIT,
      query.cursor,
    );
    return { events: page.events.map(toRestEvent), next_cursor: page.nextCursor };
  }
}
