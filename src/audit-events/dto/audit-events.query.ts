import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
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
import { PageCursorQuery, PageLimitQuery } from '../../common/page-query.js';

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

  @PageLimitQuery(AUDIT_LIST_DEFAULT_LIMIT, AUDIT_LIST_MAX_LIMIT)
  limit?: number;

  @PageCursorQuery()
  cursor?: string;
}
