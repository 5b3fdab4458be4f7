import { Args, Context, Mutation, Query, Resolver } from '@nestjs/graphql';
import { callContextOf, type GraphqlContext } from '../common/gateway-request.js';
import { CheckpointsService } from './checkpoints.service.js';
import { AuditCheckpointsArgs } from './dto/audit-checkpoints.args.js';
import { CHECKPOINT_LIST_DEFAULT_LIMIT } from './dto/checkpoint-limits.js';
import {
  AuditCheckpoint,
  AuditCheckpointConnection,
  AuditCheckpointKey,
} from './models/audit-checkpoint.model.js';

@Resolver()
export class CheckpointsResolver {
  constructor(private readonly checkpoints: CheckpointsService) {}

  @Query(() => AuditCheckpointConnection, { description: 'auditor group only' })
  async auditCheckpoints(
    @Args() args: AuditCheckpointsArgs,
    @Context() context: GraphqlContext,
  ): Promise<AuditCheckpointConnection> {
    const { principal } = callContextOf(context.req, 'graphql');
    const page = await this.checkpoints.list(
      principal,
      args.first ?? CHECKPOINT_LIST_DEFAULT_LIMIT,
      args.after,
    );
    return {
      nodes: page.checkpoints,
      pageInfo: { hasNextPage: page.nextCursor !== null, endCursor: page.nextCursor },
    };
  }

  @Query(() => AuditCheckpointKey, { description: 'auditor group only' })
  auditCheckpointKey(@Context() context: GraphqlContext): AuditCheckpointKey {
    return this.checkpoints.publicKey(callContextOf(context.req, 'graphql').principal);
  }

  @Mutation(() => AuditCheckpoint, {
    description: 'writes a signed audit checkpoint now; auditor group only',
  })
  async createAuditCheckpoint(@Context() context: GraphqlContext): Promise<AuditCheckpoint> {
    return this.checkpoints.create(callContextOf(context.req, 'graphql').principal);
  }
}
