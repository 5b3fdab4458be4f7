import { Args, Context, Mutation, Query, Resolver } from '@nestjs/graphql';
import { callContextOf, type GraphqlContext } from '../common/gateway-request.js';
import { BulkLocksService } from './bulk-locks.service.js';
import { BulkLockJobArgs, SetBackupVaultLocksInput } from './dto/set-backup-vault-locks.input.js';
import { BulkLockJob } from './models/bulk-lock-job.model.js';

@Resolver(() => BulkLockJob)
export class BulkLocksResolver {
  constructor(private readonly bulkLocks: BulkLocksService) {}

  @Mutation(() => BulkLockJob, {
    description:
      'Locks every instance the selector picks, each through the same use case as setBackupVaultLock, in the background',
  })
  setBackupVaultLocks(
    @Args('input') input: SetBackupVaultLocksInput,
    @Context() context: GraphqlContext,
  ): Promise<BulkLockJob> {
    return this.bulkLocks.create(
      callContextOf(context.req, 'graphql'),
      {
        projectId: input.projectId,
        selector: {
          enterpriseProjectIds: input.selector.enterpriseProjectIds ?? undefined,
          tags: input.selector.tags?.map(({ key, value }) => ({ key, value })),
        },
        action: input.action,
        retentionDays: input.lockRetentionDays,
        dryRun: input.dryRun,
      },
      input.idempotencyKey ?? null,
      'idempotencyKey',
    );
  }

  @Query(() => BulkLockJob, {
    nullable: true,
    description: 'A bulk job and its items: for its creator and the auditor group',
  })
  bulkLockJob(
    @Args() args: BulkLockJobArgs,
    @Context() context: GraphqlContext,
  ): Promise<BulkLockJob | null> {
    return this.bulkLocks.find(callContextOf(context.req, 'graphql'), args.id);
  }
}
