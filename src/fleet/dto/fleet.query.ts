import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsIn, IsOptional, Matches } from 'class-validator';
import { IsProjectId, PROJECT_ID_SCHEMA } from '../../common/id-validators.js';
import { MAX_TAG_FILTERS, TAG_FILTER_RULE } from '../../domain/tag-filter.js';
import {
  ENTERPRISE_PROJECT_ID_PATTERN,
  ENTERPRISE_PROJECT_ID_RULE,
  MAX_ENTERPRISE_PROJECT_FILTERS,
} from '../fleet-filter.js';
import { FLEET_DEFAULT_LIMIT, FLEET_MAX_LIMIT } from '../fleet.service.js';
import { PageCursorQuery, PageLimitQuery } from '../../common/page-query.js';

/** A query parameter given once arrives as a string, given again as a list: always a list. */
const asList = ({ value }: { value: unknown }): unknown =>
  value === undefined || Array.isArray(value) ? value : [value];

/** `key=value`, split at the first equals sign, each half under the tag filter's rule. */
export const TAG_PARAMETER_PATTERN = /^[^,=\p{Cc}]{1,128}=[^,=\p{Cc}]{1,255}$/u;

export class FleetPathDto {
  @ApiProperty(PROJECT_ID_SCHEMA)
  @IsProjectId()
  project_id!: string;
}

export class FleetQueryDto {
  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'string', pattern: ENTERPRISE_PROJECT_ID_PATTERN.source },
    description: 'Repeatable: instances of any of these enterprise projects (0 or a UUID)',
  })
  @IsOptional()
  @Transform(asList)
  @ArrayMaxSize(MAX_ENTERPRISE_PROJECT_FILTERS, {
    message: `must be given at most ${MAX_ENTERPRISE_PROJECT_FILTERS} times`,
  })
  @Matches(ENTERPRISE_PROJECT_ID_PATTERN, { each: true, message: ENTERPRISE_PROJECT_ID_RULE })
  enterprise_project_id?: string[];

  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'string', pattern: TAG_PARAMETER_PATTERN.source },
    description: 'Repeatable, key=value: instances that carry every one of these tags',
    example: ['env=prod'],
  })
  @IsOptional()
  @Transform(asList)
  @ArrayMaxSize(MAX_TAG_FILTERS, { message: `must be given at most ${MAX_TAG_FILTERS} times` })
  @Matches(TAG_PARAMETER_PATTERN, { each: true, message: TAG_FILTER_RULE })
  tag?: string[];

  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description:
      'Locked instances only, or unlocked ones; an instance whose lock could not be read is kept either way, with lock_error',
  })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'must be true or false' })
  locked?: 'true' | 'false';

  @PageLimitQuery(FLEET_DEFAULT_LIMIT, FLEET_MAX_LIMIT)
  limit?: number;

  @PageCursorQuery()
  cursor?: string;
}
