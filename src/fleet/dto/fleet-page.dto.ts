import { ApiProperty } from '@nestjs/swagger';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from '../../domain/retention.js';

export class FleetTagDto {
  @ApiProperty() key!: string;
  @ApiProperty() value!: string;
}

export class FleetLockDto {
  @ApiProperty() enabled!: boolean;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    minimum: MIN_RETENTION_DAYS,
    maximum: MAX_RETENTION_DAYS,
  })
  retention_days!: number | null;

  @ApiProperty({ type: 'string', format: 'date-time', nullable: true }) starts_at!: string | null;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true }) ends_at!: string | null;
}

export class FleetInstanceDto {
  @ApiProperty() instance_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() status!: string;
  @ApiProperty() enterprise_project_id!: string;
  @ApiProperty({ type: [FleetTagDto] }) tags!: FleetTagDto[];

  @ApiProperty({
    type: FleetLockDto,
    nullable: true,
    description: 'null when the lock could not be read; lock_error then says why',
  })
  lock!: FleetLockDto | null;

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'The error code of a lock read that failed (e.g. APIGW.0308, GW.UPSTREAM_ERROR)',
  })
  lock_error!: string | null;

  @ApiProperty({
    enum: ['enable', 'extend'],
    isArray: true,
    description: "What the caller's policy lets it do on this instance",
  })
  allowed_actions!: string[];
}

export class FleetPageDto {
  @ApiProperty({ type: [FleetInstanceDto], description: "In TaurusDB's list order" })
  instances!: FleetInstanceDto[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description:
      "Pass as cursor for the next page; null once TaurusDB's list is examined to its end. A page may hold fewer instances than limit (even none) while next_cursor is set",
  })
  next_cursor!: string | null;
}
