import { ArgsType, Field, ID } from '@nestjs/graphql';
import { IsInstanceId, IsProjectId } from '../../common/id-validators.js';

@ArgsType()
export class BackupVaultLockArgs {
  @Field(() => ID)
  @IsProjectId()
  projectId!: string;

  @Field(() => ID)
  @IsInstanceId()
  instanceId!: string;
}
