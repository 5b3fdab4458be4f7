import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from '../../domain/retention.js';

/** TaurusDB's own PUT answer, and the gateway's answer to a dry run. */
export class SetVaultLockAnswerDto {
  @ApiProperty({
    enum: ['success', 'dry-run'],
    description: '"dry-run" when ?dry_run=true: decided and audited, TaurusDB not called',
  })
  result!: 'success' | 'dry-run';
}

export class VaultLockStateInfoDto {
  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: MIN_RETENTION_DAYS,
    maximum: MAX_RETENTION_DAYS,
  })
  lock_retention_days?: number | null;

  @ApiPropertyOptional({ type: 'boolean', nullable: true, description: 'true: the lock is on' })
  lock_policy?: boolean | null;

  @ApiPropertyOptional({ type: 'integer', nullable: true, description: 'Timestamp, ms' })
  lock_start_time?: number | null;

  @ApiPropertyOptional({ type: 'integer', nullable: true, description: 'Timestamp, ms' })
  lock_end_time?: number | null;
}

/** TaurusDB's GET answer, passed on as it came. */
export class VaultLockStateDto {
  @ApiProperty({ type: VaultLockStateInfoDto })
  backup_vaultlock_info!: VaultLockStateInfoDto;
}
