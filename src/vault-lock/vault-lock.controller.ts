import { Body, Controller, Get, HttpCode, Param, Put, Query, Req, Res } from '@nestjs/common';
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
  UPSTREAM_CALL_ERRORS,
} from '../common/api-responses.js';
import { callContextOf, type GatewayRequest } from '../common/gateway-request.js';
import {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENCY_KEY_PATTERN,
  IdempotencyKeyHeader,
} from '../idempotency/idempotency-key.js';
import { SetVaultLockBodyDto, SetVaultLockQueryDto } from './dto/set-vault-lock.dto.js';
import {
  LockRequestAcceptedDto,
  SetVaultLockAnswerDto,
  VaultLockStateDto,
} from './dto/vault-lock-answers.dto.js';
import { VaultLockPathDto } from './dto/vault-lock-path.dto.js';
import { IdempotentSetLock } from './idempotent-set-lock.js';
import { VaultLockService } from './vault-lock.service.js';

const VAULT_LOCK_PATH = 'v3/:project_id/instances/:instance_id/backups/vault-lock';

/** Drop-in for TaurusDB's own vault-lock paths: same bodies, same success answers. */
@ApiTags('vault-lock')
@Controller()
export class VaultLockController {
  constructor(
    private readonly vaultLocks: VaultLockService,
    private readonly idempotentSetLock: IdempotentSetLock,
  ) {}

  @Put(VAULT_LOCK_PATH)
  @HttpCode(200)
  @ApiOperation({ summary: 'Enable or extend the backup vault lock (irreversible)' })
  @ApiHeader({
    name: IDEMPOTENCY_KEY_HEADER,
    required: false,
    description:
      '1-255 printable ASCII characters, chosen by the caller. The same key with the same request (project, instance, action, retention), by the same caller within 24 h, on either channel, replays the first answer (status, body, X-Audit-Id, plus Idempotent-Replayed: true) without calling TaurusDB again. Stored: every answer except a 429 and a 5xx that certainly changed nothing, which let the key go. Not stored for dry runs',
    schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source, maxLength: 255 },
  })
  @ApiOkResponse({
    type: SetVaultLockAnswerDto,
    description: 'Enabled or extended (or, for a dry run, allowed); the attempt is audited',
    headers: answerHeaders({ auditId: true, replayed: true }),
  })
  @ApiAcceptedResponse({
    type: LockRequestAcceptedDto,
    description:
      'The policy asks for approvals or a cooling-off: a lock request was made, and TaurusDB is called once it is approved and due; its request row is audited',
    headers: answerHeaders({ auditId: true, replayed: true, location: true }),
  })
  @ApiErrorResponses(
    [
      ...AUTHENTICATED_ROUTE_ERRORS,
      ...UPSTREAM_CALL_ERRORS,
      ErrorCases.bodyTooLarge,
      ErrorCases.notJson,
      ErrorCases.auditUnavailable,
      ErrorCases.idempotencyInProgress,
      ErrorCases.idempotencyKeyReused,
    ],
    { auditId: true, replayed: true },
  )
  async setVaultLock(
    @Param() path: VaultLockPathDto,
    @Query() query: SetVaultLockQueryDto,
    @Body() body: SetVaultLockBodyDto,
    @IdempotencyKeyHeader() idempotencyKey: string | undefined,
    @Req() req: GatewayRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SetVaultLockAnswerDto | LockRequestAcceptedDto> {
    const outcome = await this.idempotentSetLock.setLock(
      callContextOf(req, 'rest'),
      {
        projectId: path.project_id,
        instanceId: path.instance_id,
        action: body.action,
        retentionDays: body.backup_vaultlock_info.lock_retention_days,
        dryRun: query.dry_run === 'true',
      },
      idempotencyKey,
      reply,
    );
    void reply.header('x-audit-id', outcome.auditId);
    const { lockRequest } = outcome;
    if (lockRequest === undefined) return { result: outcome.result };
    void reply.status(202).header('location', `/v1/lock-requests/${lockRequest.id}`);
    return {
      result: outcome.result,
      lock_request_id: lockRequest.id,
      state: lockRequest.state,
      not_before: lockRequest.notBefore,
      expires_at: lockRequest.expiresAt,
      request_id: outcome.requestId,
    };
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
