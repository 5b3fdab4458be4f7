import { ApiProperty } from '@nestjs/swagger';
import { AUDIT_ACTIONS, AUDIT_CHANNELS, AUDIT_OUTCOMES } from '../../audit/audit-record.js';

/** One audit row as REST answers it: the stored column names are the field names. */
export class AuditEventDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'Chain position; null while the attempt is open',
  })
  seq!: number | null;
  @ApiProperty({ format: 'date-time' }) started_at!: string;
  @ApiProperty({ type: 'string', format: 'date-time', nullable: true }) completed_at!:
    string | null;
  @ApiProperty({ format: 'uuid', description: "The gateway's own id for the call" })
  request_id!: string;
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: "The caller's X-Request-Id, when it sent a sane one",
  })
  correlation_id!: string | null;
  @ApiProperty({
    enum: AUDIT_CHANNELS,
    description: 'scheduler: written by background work',
  })
  channel!: string;
  @ApiProperty() principal_iss!: string;
  @ApiProperty() principal_sub!: string;
  @ApiProperty() caller_address!: string;
  @ApiProperty() project_id!: string;
  @ApiProperty() instance_id!: string;
  @ApiProperty({
    enum: AUDIT_ACTIONS,
    description:
      "A call on a lock (enable, extend, show), a lock request's transition, or settle: reading the lock settled an unknown row",
  })
  action!: string;
  @ApiProperty({ type: 'integer', nullable: true }) retention_days!: number | null;
  @ApiProperty() dry_run!: boolean;

  @ApiProperty() decision_allowed!: boolean;
  @ApiProperty({ type: 'string', nullable: true }) decision_rule!: string | null;
  @ApiProperty({ type: [String] }) decision_reasons!: string[];
  @ApiProperty({ description: 'Hash of the policy file that decided' }) policy_version!: string;
  @ApiProperty({
    type: 'string',
    format: 'uuid',
    nullable: true,
    description: 'The lock request this row is a transition of',
  })
  lock_request_id!: string | null;
  @ApiProperty({
    type: 'string',
    format: 'uuid',
    nullable: true,
    description: 'On a settle row: the id of the unknown row it settles',
  })
  settles_audit_id!: string | null;
  @ApiProperty({
    type: 'string',
    nullable: true,
    pattern: '^[0-9a-f]{32}$',
    description: 'The OpenTelemetry trace id of the call that wrote the row, when traced',
  })
  trace_id!: string | null;
  @ApiProperty({
    enum: AUDIT_OUTCOMES,
    nullable: true,
    description: 'null while the attempt is open',
  })
  outcome!: string | null;
  @ApiProperty({ type: 'integer', nullable: true }) upstream_status!: number | null;
  @ApiProperty({ type: 'string', nullable: true }) error_code!: string | null;
  @ApiProperty({ type: 'integer', nullable: true }) duration_ms!: number | null;
  @ApiProperty({ type: 'string', nullable: true }) prev_hash!: string | null;
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'SHA-256(prev_hash ‖ canonical JSON of the row), hex',
  })
  hash!: string | null;
}

export class AuditEventsPageDto {
  @ApiProperty({ type: [AuditEventDto], description: 'Newest first' })
  events!: AuditEventDto[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as cursor for the next page; null on the last page',
  })
  next_cursor!: string | null;
}
