import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsBoolean,
  IsDefined,
  IsIn,
  IsObject,
  IsOptional,
  Matches,
  ValidateNested,
} from 'class-validator';
import {
  BULK_JOB_ID_SCHEMA,
  INSTANCE_ID_SCHEMA,
  IsBulkJobId,
  IsProjectId,
  PROJECT_ID_SCHEMA,
} from '../../common/id-validators.js';
import { VAULT_LOCK_ACTIONS, type VaultLockAction } from '../../domain/actions.js';
import { BULK_ITEM_STATES, BULK_JOB_STATES } from '../../domain/bulk-lock-job.js';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from '../../domain/retention.js';
import {
  MAX_TAG_FILTERS,
  TAG_FILTER_RULE,
  TAG_KEY_PATTERN,
  TAG_VALUE_PATTERN,
} from '../../domain/tag-filter.js';
import {
  ENTERPRISE_PROJECT_ID_PATTERN,
  ENTERPRISE_PROJECT_ID_RULE,
  MAX_ENTERPRISE_PROJECT_FILTERS,
} from '../../fleet/fleet-filter.js';
import { IsRetentionDays } from '../../vault-lock/vault-lock.rules.js';

export class BulkLockTagDto {
  @ApiProperty()
  @IsDefined({ message: 'is required' })
  @Matches(TAG_KEY_PATTERN, { message: TAG_FILTER_RULE })
  key!: string;

  @ApiProperty()
  @IsDefined({ message: 'is required' })
  @Matches(TAG_VALUE_PATTERN, { message: TAG_FILTER_RULE })
  value!: string;
}

export class BulkLockSelectorDto {
  @ApiPropertyOptional({ type: [String], description: 'any of these enterprise projects' })
  @IsOptional()
  @ArrayMinSize(1, { message: 'must be a non-empty list' })
  @ArrayMaxSize(MAX_ENTERPRISE_PROJECT_FILTERS, {
    message: `must hold at most ${MAX_ENTERPRISE_PROJECT_FILTERS} ids`,
  })
  @Matches(ENTERPRISE_PROJECT_ID_PATTERN, { each: true, message: ENTERPRISE_PROJECT_ID_RULE })
  enterprise_project_ids?: string[];

  @ApiPropertyOptional({ type: [BulkLockTagDto], description: 'every one of these tags' })
  @IsOptional()
  @ArrayMaxSize(MAX_TAG_FILTERS, { message: `must hold at most ${MAX_TAG_FILTERS} tags` })
  @ValidateNested({ each: true })
  @Type(() => BulkLockTagDto)
  tags?: BulkLockTagDto[];
}

export class CreateBulkLockDto {
  @ApiProperty(PROJECT_ID_SCHEMA)
  @IsDefined({ message: 'is required' })
  @IsProjectId()
  project_id!: string;

  @ApiProperty({ type: BulkLockSelectorDto, description: 'all instances when empty' })
  @IsDefined({ message: 'is required' })
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => BulkLockSelectorDto)
  selector!: BulkLockSelectorDto;

  @ApiProperty({ enum: VAULT_LOCK_ACTIONS, description: 'Case-insensitive' })
  @IsDefined({ message: 'is required' })
  @Transform(({ value }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsIn(VAULT_LOCK_ACTIONS, { message: 'must be enable or extend (any case)' })
  action!: VaultLockAction;

  @ApiProperty({ type: 'integer', minimum: MIN_RETENTION_DAYS, maximum: MAX_RETENTION_DAYS })
  @IsDefined({ message: 'is required' })
  @IsRetentionDays()
  lock_retention_days!: number;

  @ApiPropertyOptional({ type: 'boolean', default: false, description: 'Decide and audit only' })
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  dry_run?: boolean;
}

export class BulkLockPathDto {
  @ApiProperty(BULK_JOB_ID_SCHEMA)
  @IsBulkJobId()
  id!: string;
}

export class BulkLockAcceptedDto {
  @ApiProperty(BULK_JOB_ID_SCHEMA) id!: string;
  @ApiProperty({ enum: BULK_JOB_STATES }) state!: string;
  @ApiProperty() request_id!: string;
}

export class BulkLockItemDto {
  @ApiProperty(INSTANCE_ID_SCHEMA) instance_id!: string;
  @ApiProperty({ enum: BULK_ITEM_STATES }) state!: string;
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'success, dry-run, pending-approval or scheduled',
  })
  result!: string | null;
  @ApiProperty({ type: 'string', nullable: true }) error_code!: string | null;
  @ApiProperty({ type: 'string', nullable: true }) audit_id!: string | null;
  @ApiProperty({ type: 'string', nullable: true }) lock_request_id!: string | null;
}

export class BulkLockJobDto {
  @ApiProperty(BULK_JOB_ID_SCHEMA) id!: string;
  @ApiProperty({ enum: BULK_JOB_STATES }) state!: string;
  @ApiProperty({ type: 'integer' }) total!: number;
  @ApiProperty({ type: 'integer', description: 'items that have ended' }) done!: number;
  @ApiProperty({ type: [BulkLockItemDto], description: "In TaurusDB's list order" })
  items!: BulkLockItemDto[];
}
