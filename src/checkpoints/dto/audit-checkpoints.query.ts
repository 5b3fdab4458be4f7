import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { CHECKPOINT_LIST_DEFAULT_LIMIT, CHECKPOINT_LIST_MAX_LIMIT } from './checkpoint-limits.js';

const LIMIT_RULE = `must be an integer from 1 to ${CHECKPOINT_LIST_MAX_LIMIT}`;

export class AuditCheckpointsQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    default: CHECKPOINT_LIST_DEFAULT_LIMIT,
    minimum: 1,
    maximum: CHECKPOINT_LIST_MAX_LIMIT,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: LIMIT_RULE })
  @Min(1, { message: LIMIT_RULE })
  @Max(CHECKPOINT_LIST_MAX_LIMIT, { message: LIMIT_RULE })
  limit?: number;

  @ApiPropertyOptional({ maxLength: 200, description: 'The next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200, { message: 'is not a cursor' })
  cursor?: string;
}
