import { Args, Context, Mutation, Query, Resolver } from '@nestjs/graphql';
import { callContextOf, type GraphqlContext } from '../common/gateway-request.js';
import { IdempotentSetLock } from './idempotent-set-lock.js';
import { BackupVaultLockArgs } from './dto/backup-vault-lock.args.js';
import { SetBackupVaultLockInput } from './dto/set-backup-vault-lock.input.js';
import { BackupVaultLock } from './models/backup-vault-lock.model.js';
import { SetBackupVaultLockPayload } from './models/set-backup-vault-lock-payload.model.js';
import { VaultLockService } from './vault-lock.service.js';

@Resolver(() => BackupVaultLock)
export class VaultLockResolver {
  constructor(
    private readonly vaultLocks: VaultLockService,
    private readonly idempotentSetLock: IdempotentSetLock,
  ) {}

  @Mutation(() => SetBackupVaultLockPayload)
  async setBackupVaultLock(
    @Args('input') input: SetBackupVaultLockInput,
    @Context() context: GraphqlContext,
  ): Promise<SetBackupVaultLockPayload> {
    const outcome = await this.idempotentSetLock.setLock(
      callContextOf(context.req, 'graphql'),
      {
        projectId: input.projectId,
        instanceId: input.instanceId,
        action: input.action,
        retentionDays: input.lockRetentionDays,
        dryRun: input.dryRun,
      },
      input.idempotencyKey,
      context.reply,
    );
    return { ...outcome, lockRequestId: outcome.lockRequest?.id ?? null };
  }

  @Query(() => BackupVaultLock)
  backupVaultLock(
    @Args() args: BackupVaultLockArgs,
    @Context() context: GraphqlContext,
  ): Promise<BackupVaultLock> {
    return this.vaultLocks.showLock(callContextOf(context.req, 'graphql'), args);
  }
}
