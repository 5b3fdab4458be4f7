import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  Equals,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import {
  MAX_RETENTION_DAYS,
  MIN_RETENTION_DAYS,
  RETENTION_RULE,
  VAULT_LOCK_ACTIONS,
  type VaultLockAction,
} from '../vault-lock.rules.js';

export class VaultLockInfoDto {
  @ApiProperty({ minimum: MIN_RETENTION_DAYS, maximum: MAX_RETENTION_DAYS, example: 365 })
  @IsDefined({ message: 'is required' })
  @IsInt({ message: RETENTION_RULE })
  @Min(MIN_RETENTION_DAYS, { message: RETENTION_RULE })
  @Max(MAX_RETENTION_DAYS, { message: RETENTION_RULE })
  lock_retention_days!: number;

  @ApiProperty({ enum: [true], description: 'The lock cannot be disabled: only true is accepted' })
  @IsDefined({ message: 'is required' })
  @Equals(true, { message: 'must be true (a vault lock cannot be disabled)' })
  lock_policy!: true;
}

/** TaurusDB's own PUT body, unchanged, so the gateway is a drop-in for its path. */
export class SetVaultLockBodyDto {
  @ApiProperty({ type: VaultLockInfoDto })
  @IsDefined({ message: 'is required' })
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => VaultLockInfoDto)
  backup_vaultlock_info!: VaultLockInfoDto;

  @ApiProperty({ enum: VAULT_LOCK_ACTIONS, description: 'Case-insensitive' })
  @IsDefined({ message: 'is required' })
  @Transform(({ value }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsIn(VAULT_LOCK_ACTIONS, { message: 'must be enable or extend (any case)' })
  action!: VaultLockAction;
}

export class SetVaultLockQueryDto {
  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'Decide and audit only' })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'must be true or false' })
  dry_run?: 'true' | 'false';
}
