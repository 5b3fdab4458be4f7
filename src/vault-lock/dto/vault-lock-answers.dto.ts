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

/** The answer when the policy defers the change to a lock request (DESIGN §6). */
export class LockRequestAcceptedDto {
  @ApiProperty({
    enum: ['pending-approval', 'scheduled'],
    description:
      '"pending-approval" while approvals are missing; "scheduled" when only a cooling-off applies',
  })
  result!: 'pending-approval' | 'scheduled';

  @ApiProperty({ format: 'uuid' }) lock_request_id!: string;

  @ApiProperty({ enum: ['PENDING_APPROVAL', 'SCHEDULED'] }) state!: string;

  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description: 'Earliest execution; null while approvals are missing',
  })
  not_before!: string | null;

  @ApiProperty({
    format: 'date-time',
    description: 'When the request expires unless approved (or, once scheduled, started)',
  })
  expires_at!: string;

  @ApiProperty({ format: 'uuid', description: "The gateway's own id for the call" })
  request_id!: string;
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
