import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import {
  INSTANCE_ID_SCHEMA,
  IsInstanceId,
  IsLockRequestId,
  IsProjectId,
  LOCK_REQUEST_ID_SCHEMA,
  PROJECT_ID_SCHEMA,
} from '../../common/id-validators.js';
import { VAULT_LOCK_ACTIONS } from '../../domain/actions.js';
import { LOCK_REQUEST_STATES, type LockRequestState } from '../../domain/lock-request.js';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from '../../domain/retention.js';
import {
  LOCK_REQUEST_LIST_DEFAULT_LIMIT,
  LOCK_REQUEST_LIST_MAX_LIMIT,
  MAX_COMMENT_CHARS,
} from '../lock-requests.service.js';
import { IsComment, IsRequiredComment } from './lock-request.rules.js';
import { PageCursorQuery, PageLimitQuery } from '../../common/page-query.js';

const FLAG_RULE = 'must be true or false';

export class LockRequestPathDto {
  @ApiProperty(LOCK_REQUEST_ID_SCHEMA)
  @IsLockRequestId()
  id!: string;
}

export class LockRequestCommentDto {
  @ApiPropertyOptional({ type: 'string', nullable: true, maxLength: MAX_COMMENT_CHARS })
  @IsOptional()
  @IsComment()
  comment?: string | null;
}

export class DenyLockRequestDto {
  @ApiProperty({
    maxLength: MAX_COMMENT_CHARS,
    description: 'Why: it becomes the request’s reason',
  })
  @IsRequiredComment()
  comment!: string;
}

export class LockRequestsQueryDto {
  @ApiPropertyOptional({ enum: LOCK_REQUEST_STATES })
  @IsOptional()
  @IsIn(LOCK_REQUEST_STATES, { message: `must be one of ${LOCK_REQUEST_STATES.join(', ')}` })
  state?: LockRequestState;

  @ApiPropertyOptional(PROJECT_ID_SCHEMA)
  @IsOptional()
  @IsProjectId()
  project_id?: string;

  @ApiPropertyOptional(INSTANCE_ID_SCHEMA)
  @IsOptional()
  @IsInstanceId()
  instance_id?: string;

  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description: 'Pending requests this caller may approve, did not make and has not decided',
  })
  @IsOptional()
  @IsIn(['true', 'false'], { message: FLAG_RULE })
  awaiting_my_approval?: 'true' | 'false';

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'Requests this caller made' })
  @IsOptional()
  @IsIn(['true', 'false'], { message: FLAG_RULE })
  mine?: 'true' | 'false';

  @PageLimitQuery(LOCK_REQUEST_LIST_DEFAULT_LIMIT, LOCK_REQUEST_LIST_MAX_LIMIT)
  limit?: number;

  @PageCursorQuery()
  cursor?: string;
}

export class ApprovalDto {
  @ApiProperty({ description: 'iss#sub of the approver' }) approver!: string;
  @ApiProperty({ enum: ['approve', 'deny'] }) decision!: string;
  @ApiProperty({ type: 'string', nullable: true }) comment!: string | null;
  @ApiProperty({ format: 'date-time' }) at!: string;
}

/** A lock request as REST answers it and as webhooks receive it. */
export class LockRequestDto {
  @ApiProperty(LOCK_REQUEST_ID_SCHEMA) id!: string;
  @ApiProperty({ enum: LOCK_REQUEST_STATES }) state!: string;
  @ApiProperty(PROJECT_ID_SCHEMA) project_id!: string;
  @ApiProperty(INSTANCE_ID_SCHEMA) instance_id!: string;
  @ApiProperty({ enum: VAULT_LOCK_ACTIONS }) action!: string;
  @ApiProperty({ type: 'integer', minimum: MIN_RETENTION_DAYS, maximum: MAX_RETENTION_DAYS })
  lock_retention_days!: number;
  @ApiProperty({ description: 'iss#sub of the requester' }) requester!: string;
  @ApiProperty({ type: 'integer' }) approvals_required!: number;
  @ApiProperty({ type: [ApprovalDto] }) approvals!: ApprovalDto[];
  @ApiProperty({
    type: 'string',
    format: 'date-time',
    nullable: true,
    description: 'Earliest execution; null while approvals are missing',
  })
  not_before!: string | null;
  @ApiProperty({ format: 'date-time' }) expires_at!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ type: 'string', nullable: true }) reason!: string | null;
}

export class LockRequestsPageDto {
  @ApiProperty({ type: [LockRequestDto], description: 'Newest first' })
  lock_requests!: LockRequestDto[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as cursor for the next page; null on the last page',
  })
  next_cursor!: string | null;
}
