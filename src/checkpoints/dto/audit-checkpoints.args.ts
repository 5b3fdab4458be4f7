import { ArgsType } from '@nestjs/graphql';
import { CHECKPOINT_LIST_DEFAULT_LIMIT, CHECKPOINT_LIST_MAX_LIMIT } from './checkpoint-limits.js';
import { AfterArg, FirstArg } from '../../common/graphql/page-args.js';

@ArgsType()
export class AuditCheckpointsArgs {
  @FirstArg(CHECKPOINT_LIST_DEFAULT_LIMIT, CHECKPOINT_LIST_MAX_LIMIT)
  first?: number | null;

  @AfterArg()
  after?: string;
}
