import { ArgsType, Field, ID, InputType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, ValidateNested } from 'class-validator';
import { IsInstanceId, IsLockRequestId, IsProjectId } from '../../common/id-validators.js';
import { LOCK_REQUEST_STATES, type LockRequestState } from '../../domain/lock-request.js';
import {
  LOCK_REQUEST_LIST_DEFAULT_LIMIT,
  LOCK_REQUEST_LIST_MAX_LIMIT,
} from '../lock-requests.service.js';
import { LockRequestStateEnum } from '../models/lock-request.model.js';
import { IsComment, IsRequiredComment } from './lock-request.rules.js';
import { AfterArg, FirstArg } from '../../common/graphql/page-args.js';

@ArgsType()
export class LockRequestArgs {
  @Field(() => ID)
  @IsLockRequestId()
  id!: string;
}

@ArgsType()
export class CommentedLockRequestArgs extends LockRequestArgs {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsComment()
  comment?: string | null;
}

@ArgsType()
export class DenyLockRequestArgs extends LockRequestArgs {
  @Field({ description: 'why: it becomes the request’s reason' })
  @IsRequiredComment()
  comment!: string;
}

@InputType()
export class LockRequestFilter {
  @Field(() => LockRequestStateEnum, { nullable: true })
  @IsOptional()
  @IsIn(LOCK_REQUEST_STATES, { message: `must be one of ${LOCK_REQUEST_STATES.join(', ')}` })
  state?: LockRequestState;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsProjectId()
  projectId?: string;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsInstanceId()
  instanceId?: string;

  @Field(() => Boolean, {
    nullable: true,
    description: 'pending requests this caller may approve, did not make and has not decided',
  })
  @IsOptional()
  @IsBoolean()
  awaitingMyApproval?: boolean;

  @Field(() => Boolean, { nullable: true, description: 'requests this caller made' })
  @IsOptional()
  @IsBoolean()
  mine?: boolean;
}

@ArgsType()
export class LockRequestsArgs {
  @Field(() => LockRequestFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => LockRequestFilter)
  filter?: LockRequestFilter;

  @FirstArg(LOCK_REQUEST_LIST_DEFAULT_LIMIT, LOCK_REQUEST_LIST_MAX_LIMIT)
  first?: number | null;

  @AfterArg()
  after?: string;
}
