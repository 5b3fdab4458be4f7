import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import {
  AUDIT_LIST_DEFAULT_LIMIT,
  AUDIT_LIST_MAX_LIMIT,
  AUDIT_OUTCOMES,
  type AuditOutcome,
} from '../../audit/audit-record.js';
import { IsRfc3339DateTime } from '../../common/date-time.js';
import {
  INSTANCE_ID_SCHEMA,
  IsInstanceId,
  IsLockRequestId,
  IsProjectId,
  LOCK_REQUEST_ID_SCHEMA,
  PROJECT_ID_SCHEMA,
} from '../../common/id-validators.js';

const LIMIT_RULE = `must be an integer from 1 to ${AUDIT_LIST_MAX_LIMIT}`;

export class AuditEventsQueryDto {
  @ApiPropertyOptional(PROJECT_ID_SCHEMA)
  @IsOptional()
  @IsProjectId()
  project_id?: string;

  @ApiPropertyOptional(INSTANCE_ID_SCHEMA)
  @IsOptional()
  @IsInstanceId()
  instance_id?: string;

  @ApiPropertyOptional({ enum: AUDIT_OUTCOMES })
  @IsOptional()
  @IsIn(AUDIT_OUTCOMES, { message: `must be one of ${AUDIT_OUTCOMES.join(', ')}` })
  outcome?: AuditOutcome;

  @ApiPropertyOptional({
    ...LOCK_REQUEST_ID_SCHEMA,
    description: `The rows of one lock request; ${LOCK_REQUEST_ID_SCHEMA.description}`,
  })
  @IsOptional()
  @IsLockRequestId()
  lock_request_id?: string;

  @ApiPropertyOptional({
    type: 'string',
    format: 'date-time',
    description: "RFC 3339, with Z or an offset; inclusive, on the attempt's start time",
  })
  @IsOptional()
  @IsRfc3339DateTime()
  since?: Date;

  @ApiPropertyOptional({
    type: 'string',
    format: 'date-time',
    description: "RFC 3339, with Z or an offset; exclusive, on the attempt's start time",
  })
  @IsOptional()
  @IsRfc3339DateTime()
  until?: Date;

  @ApiPropertyOptional({
    type: 'integer',
    default: AUDIT_LIST_DEFAULT_LIMIT,
    minimum: 1,
    maximum: AUDIT_LIST_MAX_LIMIT,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: LIMIT_RULE })
  @Min(1, { message: LIMIT_RULE })
  @Max(AUDIT_LIST_MAX_LIMIT, { message: LIMIT_RULE })
  limit?: number;

  @ApiPropertyOptional({
    maxLength: 200,
    description: 'The next_cursor of the previous page',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200, { message: 'is not a cursor' })
  cursor?: string;
}
