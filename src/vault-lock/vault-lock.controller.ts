import { Body, Controller, Get, HttpCode, Param, Put, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import {
  ApiErrorResponses,
  AUTHENTICATED_ROUTE_ERRORS,
  answerHeaders,
  ErrorCases,
  UPSTREAM_CALL_ERRORS,
} from '../common/api-responses.js';
import { callContextOf, type GatewayRequest } from '../common/gateway-request.js';
import { SetVaultLockBodyDto, SetVaultLockQueryDto } from './dto/set-vault-lock.dto.js';
import { SetVaultLockAnswerDto, VaultLockStateDto } from './dto/vault-lock-answers.dto.js';
import { VaultLockPathDto } from './dto/vault-lock-path.dto.js';
import { VaultLockService } from './vault-lock.service.js';

const VAULT_LOCK_PATH = 'v3/:project_id/instances/:instance_id/backups/vault-lock';

/** Drop-in for TaurusDB's own vault-lock paths: same bodies, same success answers. */
@ApiTags('vault-lock')
@Controller()
export class VaultLockController {
  constructor(private readonly vaultLocks: VaultLockService) {}

  @Put(VAULT_LOCK_PATH)
  @HttpCode(200)
  @ApiOperation({ summary: 'Enable or extend the backup vault lock (irreversible)' })
  @ApiOkResponse({
    type: SetVaultLockAnswerDto,
    description: 'Enabled or extended (or, for a dry run, allowed); the attempt is audited',
    headers: answerHeaders({ auditId: true }),
  })
  @ApiErrorResponses(
    [
      ...AUTHENTICATED_ROUTE_ERRORS,
      ...UPSTREAM_CALL_ERRORS,
      ErrorCases.bodyTooLarge,
      ErrorCases.notJson,
      ErrorCases.auditUnavailable,
    ],
    { auditId: true },
  )
  async setVaultLock(
    @Param() path: VaultLockPathDto,
    @Query() query: SetVaultLockQueryDto,
    @Body() body: SetVaultLockBodyDto,
    @Req() req: GatewayRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SetVaultLockAnswerDto> {
    const outcome = await this.vaultLocks.setLock(callContextOf(req, 'rest'), {
      projectId: path.project_id,
      instanceId: path.instance_id,
      action: body.action,
      retentionDays: body.backup_vaultlock_info.lock_retention_days,
      dryRun: query.dry_run === 'true',
    });
    void reply.header('x-audit-id', outcome.auditId);
    return { result: outcome.result };
  }

  @Get(VAULT_LOCK_PATH)
  @ApiOperation({ summary: "Show the backup vault lock (TaurusDB's answer)" })
  @ApiOkResponse({
    type: VaultLockStateDto,
    description: "TaurusDB's answer, as it came",
    headers: answerHeaders(),
  })
  @ApiErrorResponses([...AUTHENTICATED_ROUTE_ERRORS, ...UPSTREAM_CALL_ERRORS])
  async showVaultLock(
    @Param() path: VaultLockPathDto,
    @Req() req: GatewayRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<unknown> {
    const state = await this.vaultLocks.showLock(callContextOf(req, 'rest'), {
      projectId: path.project_id,
      instanceId: path.instance_id,
    });
    if (state.auditId !== undefined) void reply.header('x-audit-id', state.auditId);
    return state.upstream;
  }
}
