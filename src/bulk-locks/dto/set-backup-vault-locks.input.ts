import { ArgsType, Field, ID, InputType, Int } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsBoolean,
  IsEnum,
  IsOptional,
  Matches,
  ValidateNested,
} from 'class-validator';
import { VaultLockActionEnum } from '../../common/graphql/vault-lock-action.enum.js';
import { IsBulkJobId, IsProjectId } from '../../common/id-validators.js';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from '../../domain/retention.js';
import { MAX_TAG_FILTERS } from '../../domain/tag-filter.js';
import { TagFilterInput } from '../../fleet/dto/fleet.args.js';
import {
  ENTERPRISE_PROJECT_ID_PATTERN,
  ENTERPRISE_PROJECT_ID_RULE,
  MAX_ENTERPRISE_PROJECT_FILTERS,
} from '../../fleet/fleet-filter.js';
import { IsIdempotencyKey } from '../../idempotency/idempotency-key.js';
import { IsRetentionDays } from '../../vault-lock/vault-lock.rules.js';

@InputType({ description: 'Which instances of the project a bulk job locks: all when empty' })
export class BulkLockSelectorInput {
  @Field(() => [String], { nullable: true, description: 'any of these enterprise projects' })
  @IsOptional()
  @ArrayMinSize(1, { message: 'must be a non-empty list' })
  @ArrayMaxSize(MAX_ENTERPRISE_PROJECT_FILTERS, {
    message: `must hold at most ${MAX_ENTERPRISE_PROJECT_FILTERS} ids`,
  })
  @Matches(ENTERPRISE_PROJECT_ID_PATTERN, { each: true, message: ENTERPRISE_PROJECT_ID_RULE })
  enterpriseProjectIds?: string[] | null;

  @Field(() => [TagFilterInput], { nullable: true, description: 'every one of these tags' })
  @IsOptional()
  @ArrayMaxSize(MAX_TAG_FILTERS, { message: `must hold at most ${MAX_TAG_FILTERS} tags` })
  @ValidateNested({ each: true })
  @Type(() => TagFilterInput)
  tags?: TagFilterInput[] | null;
}

@InputType()
export class SetBackupVaultLocksInput {
  @Field(() => ID, { description: '32 letters/digits' })
  @IsProjectId()
  projectId!: string;

  @Field(() => BulkLockSelectorInput)
  @ValidateNested()
  @Type(() => BulkLockSelectorInput)
  selector!: BulkLockSelectorInput;

  @Field(() => VaultLockActionEnum)
  @IsEnum(VaultLockActionEnum, { message: 'must be ENABLE or EXTEND' })
  action!: VaultLockActionEnum;

  @Field(() => Int, { description: `${MIN_RETENTION_DAYS}..${MAX_RETENTION_DAYS}` })
  @IsRetentionDays()
  lockRetentionDays!: number;

  @Field({
    defaultValue: false,
    description: "Decide and audit every instance, never call TaurusDB's PUT",
  })
  @IsBoolean()
  dryRun!: boolean;

  @Field(() => String, {
    nullable: true,
    description:
      "1-255 printable ASCII characters, chosen by the caller; the same key and request answer the caller's first job with this key",
  })
  @IsIdempotencyKey()
  idempotencyKey?: string | null;
}

@ArgsType()
export class BulkLockJobArgs {
  @Field(() => ID)
  @IsBulkJobId()
  id!: string;
}
