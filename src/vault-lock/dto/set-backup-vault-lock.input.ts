import { Field, ID, InputType, Int, registerEnumType } from '@nestjs/graphql';
import { Equals, IsBoolean, IsEnum, IsInt, Matches, Max, Min } from 'class-validator';
import {
  INSTANCE_ID_PATTERN,
  INSTANCE_ID_RULE,
  PROJECT_ID_PATTERN,
  PROJECT_ID_RULE,
} from '../../common/ids.js';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, RETENTION_RULE } from '../vault-lock.rules.js';

export enum VaultLockActionInput {
  ENABLE = 'enable',
  EXTEND = 'extend',
}

registerEnumType(VaultLockActionInput, { name: 'VaultLockAction' });

@InputType()
export class SetBackupVaultLockInput {
  @Field(() => ID, { description: '32 letters/digits' })
  @Matches(PROJECT_ID_PATTERN, { message: PROJECT_ID_RULE })
  projectId!: string;

  @Field(() => ID, { description: '36 letters/digits ending in in07' })
  @Matches(INSTANCE_ID_PATTERN, { message: INSTANCE_ID_RULE })
  instanceId!: string;

  @Field(() => VaultLockActionInput)
  @IsEnum(VaultLockActionInput, { message: 'must be ENABLE or EXTEND' })
  action!: VaultLockActionInput;

  @Field(() => Int, { description: `${MIN_RETENTION_DAYS}..${MAX_RETENTION_DAYS}` })
  @IsInt({ message: RETENTION_RULE })
  @Min(MIN_RETENTION_DAYS, { message: RETENTION_RULE })
  @Max(MAX_RETENTION_DAYS, { message: RETENTION_RULE })
  lockRetentionDays!: number;

  @Field({ defaultValue: true, description: 'Only true is accepted' })
  @Equals(true, { message: 'must be true (a vault lock cannot be disabled)' })
  lockPolicy!: boolean;

  @Field({ defaultValue: false, description: 'Decide and audit, never call TaurusDB PUT' })
  @IsBoolean()
  dryRun!: boolean;
}
