import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { CallContext } from '../common/call-context.js';
import type { GatewayError } from '../common/gateway-error.js';
import { IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER } from '../idempotency/idempotency-key.js';
import { IdempotentCalls } from '../idempotency/idempotent-calls.js';
import {
  changeMayHaveApplied,
  VaultLockService,
  type SetVaultLockCommand,
  type SetVaultLockResult,
} from './vault-lock.service.js';

/**
 * Whether a failed PUT is the request's final answer. Everything is, except what certainly left
 * the lock unchanged and asks to be tried later: a 429, and a 5xx before TaurusDB applied anything
 * (unreachable before sending, circuit open, IAM or the audit trail unavailable); those let the
 * key go, so a retry with it runs again. An outcome that may have applied (deadline passed after
 * sending, reset mid-answer, an unexpected failure) is final: the PUT is never sent again blindly.
 */
export function settlesSetLock(error: GatewayError, thrown: unknown): boolean {
  if (error.status === 429) return false;
  if (error.status < 500) return true;
  return changeMayHaveApplied(error, thrown);
}

/** The vault-lock use case under an idempotency key, for both channels. */
@Injectable()
export class IdempotentSetLock {
  constructor(
    private readonly vaultLocks: VaultLockService,
    private readonly calls: IdempotentCalls,
  ) {}

  /** Without a key, and for dry runs (never stored), the use case simply runs. */
  setLock(
    ctx: CallContext,
    command: SetVaultLockCommand,
    key: string | null | undefined,
    reply: FastifyReply,
  ): Promise<SetVaultLockResult> {
    if (key === undefined || key === null || command.dryRun) {
      return this.vaultLocks.setLock(ctx, command);
    }
    return this.calls.run(
      {
        principalId: ctx.principal.id,
        key,
        keyName: ctx.channel === 'rest' ? IDEMPOTENCY_KEY_HEADER : 'idempotencyKey',
        requestId: ctx.requestId,
        // The same on both channels, so that either replays the other's answer in its own shape.
        fingerprint: {
          operation: 'setBackupVaultLock',
          projectId: command.projectId,
          instanceId: command.instanceId,
          action: command.action,
          retentionDays: command.retentionDays,
        },
        settles: settlesSetLock,
        onReplay: () => void reply.header(REPLAYED_HEADER, 'true'),
      },
      () => this.vaultLocks.setLock(ctx, command),
    );
  }
}
