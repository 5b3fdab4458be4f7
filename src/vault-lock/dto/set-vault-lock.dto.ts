import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsDefined, IsIn, IsObject, IsOptional, ValidateNested } from 'class-validator';
import { VAULT_LOCK_ACTIONS, type VaultLockAction } from '../../domain/actions.js';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from '../../domain/retention.js';
import { IsLockPolicy, IsRetentionDays } from '../vault-lock.rules.js';

export class VaultLockInfoDto {
  @ApiProperty({
    type: 'integer',
    minimum: MIN_RETENTION_DAYS,
    maximum: MAX_RETENTION_DAYS,
    example: 365,
  })
  @IsDefined({ message: 'is required' })
  @IsRetentionDays()
  lock_retention_days!: number;

  @ApiProperty({ enum: [true], description: 'The lock cannot be disabled: only true is accepted' })
  @IsDefined({ message: 'is required' })
  @IsLockPolicy()
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
