import { Field, ID, InputType, Int } from '@nestjs/graphql';
import { IsBoolean, IsEnum } from 'class-validator';
import { VaultLockActionEnum } from '../../common/graphql/vault-lock-action.enum.js';
import { IsInstanceId, IsProjectId } from '../../common/id-validators.js';
import { IsIdempotencyKey } from '../../idempotency/idempotency-key.js';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from '../../domain/retention.js';
import { IsLockPolicy, IsRetentionDays } from '../vault-lock.rules.js';

@InputType()
export class SetBackupVaultLockInput {
  @Field(() => ID, { description: '32 letters/digits' })
  @IsProjectId()
  projectId!: string;

  @Field(() => ID, { description: '36 letters/digits ending in in07' })
  @IsInstanceId()
  instanceId!: string;

  @Field(() => VaultLockActionEnum)
  @IsEnum(VaultLockActionEnum, { message: 'must be ENABLE or EXTEND' })
  action!: VaultLockActionEnum;

  @Field(() => Int, { description: `${MIN_RETENTION_DAYS}..${MAX_RETENTION_DAYS}` })
  @IsRetentionDays()
  lockRetentionDays!: number;

  @Field({ defaultValue: true, description: 'Only true is accepted' })
  @IsLockPolicy()
  lockPolicy!: boolean;

  @Field({ defaultValue: false, description: 'Decide and audit, never call TaurusDB PUT' })
  @IsBoolean()
  dryRun!: boolean;

  @Field(() => String, {
    nullable: true,
    description:
      '1-255 printable ASCII characters, chosen by the caller; the same key and request within 24 h replay the first answer instead of calling TaurusDB again. Not stored for dry runs',
  })
  @IsIdempotencyKey()
  idempotencyKey?: string | null;
}
