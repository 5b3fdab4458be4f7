import { Controller, Get, Param, Query, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  ApiErrorResponses,
  AUTHENTICATED_ROUTE_ERRORS,
  answerHeaders,
  ErrorCases,
} from '../common/api-responses.js';
import { callContextOf, type GatewayRequest } from '../common/gateway-request.js';
import type { LockState } from '../vault-lock/vault-lock-state.js';
import { FleetPageDto, type FleetInstanceDto, type FleetLockDto } from './dto/fleet-page.dto.js';
import { FleetPathDto, FleetQueryDto } from './dto/fleet.query.js';
import { FLEET_DEFAULT_LIMIT, FleetService, type FleetInstance } from './fleet.service.js';

function toRestLock(lock: LockState): FleetLockDto {
  return {
    enabled: lock.enabled,
    retention_days: lock.retentionDays,
    starts_at: lock.startsAt?.toISOString() ?? null,
    ends_at: lock.endsAt?.toISOString() ?? null,
  };
}

function toRestInstance(instance: FleetInstance): FleetInstanceDto {
  return {
    instance_id: instance.instanceId,
    name: instance.name,
    status: instance.status,
    enterprise_project_id: instance.enterpriseProjectId,
    tags: instance.tags,
    lock: instance.lock === null ? null : toRestLock(instance.lock),
    lock_error: instance.lockError,
    allowed_actions: instance.allowedActions,
  };
}

@ApiTags('fleet')
@Controller('v1/projects/:project_id/fleet')
export class FleetController {
  constructor(private readonly fleet: FleetService) {}

  @Get()
  @ApiOperation({
    summary: "The project's instances the caller may see, with their locks and allowed actions",
  })
  @ApiOkResponse({ type: FleetPageDto, description: 'One page', headers: answerHeaders() })
  @ApiErrorResponses([
    ...AUTHENTICATED_ROUTE_ERRORS,
    ErrorCases.policyDenied,
    ErrorCases.iamRefused,
    ErrorCases.upstreamForbidden,
    ErrorCases.upstreamThrottled,
    ErrorCases.upstreamFailed,
    ErrorCases.upstreamUnavailable,
    ErrorCases.iamUnavailable,
    ErrorCases.upstreamTimeout,
  ])
  async list(
    @Param() path: FleetPathDto,
    @Query() query: FleetQueryDto,
    @Req() req: GatewayRequest,
  ): Promise<FleetPageDto> {
    const page = await this.fleet.page(callContextOf(req, 'rest'), {
      projectId: path.project_id,
      filter: {
        enterpriseProjectIds: query.enterprise_project_id,
        tags: query.tag?.map(tagOf),
        locked: query.locked === undefined ? undefined : query.locked === 'true',
      },
      limit: query.limit ?? FLEET_DEFAULT_LIMIT,
      cursor: query.cursor,
      cursorField: 'cursor',
    });
    return { instances: page.instances.map(toRestInstance), next_cursor: page.nextCursor };
  }
}

/** Validated as `key=value` with neither half holding an equals sign. */
function tagOf(parameter: string): { key: string; value: string } {
  const [key, value] = parameter.split('=');
  return { key, value };
}
