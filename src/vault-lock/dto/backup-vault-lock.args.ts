import { ArgsType, Field, ID } from '@nestjs/graphql';
import { Matches } from 'class-validator';
import {
  INSTANCE_ID_PATTERN,
  INSTANCE_ID_RULE,
  PROJECT_ID_PATTERN,
  PROJECT_ID_RULE,
} from '../../common/ids.js';

@ArgsType()
export class BackupVaultLockArgs {
  @Field(() => ID)
  @Matches(PROJECT_ID_PATTERN, { message: PROJECT_ID_RULE })
  projectId!: string;

  @Field(() => ID)
  @Matches(INSTANCE_ID_PATTERN, { message: INSTANCE_ID_RULE })
  instanceId!: string;
}
