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
import { IsInstanceId, IsProjectId } from '../../common/id-validators.js';

const LIMIT_RULE = `must be an integer from 1 to ${AUDIT_LIST_MAX_LIMIT}`;

export class AuditEventsQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsProjectId()
  project_id?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInstanceId()
  instance_id?: string;

  @ApiPropertyOptional({ enum: AUDIT_OUTCOMES })
  @IsOptional()
  @IsIn(AUDIT_OUTCOMES, { message: `must be one of ${AUDIT_OUTCOMES.join(', ')}` })
  outcome?: AuditOutcome;

  @ApiPropertyOptional({ description: 'RFC 3339 date-time with Z or an offset, inclusive' })
  @IsOptional()
  @IsRfc3339DateTime()
  since?: Date;

  @ApiPropertyOptional({ description: 'RFC 3339 date-time with Z or an offset, exclusive' })
  @IsOptional()
  @IsRfc3339DateTime()
  until?: Date;

  @ApiPropertyOptional({ default: AUDIT_LIST_DEFAULT_LIMIT, maximum: AUDIT_LIST_MAX_LIMIT })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: LIMIT_RULE })
  @Min(1, { message: LIMIT_RULE })
  @Max(AUDIT_LIST_MAX_LIMIT, { message: LIMIT_RULE })
  limit?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200, { message: 'is not a cursor' })
  cursor?: string;
}
