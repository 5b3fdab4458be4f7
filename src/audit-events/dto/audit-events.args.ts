import { ArgsType, Field, ID, InputType, Int, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  IsDate,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { AUDIT_LIST_DEFAULT_LIMIT, AUDIT_LIST_MAX_LIMIT } from '../../audit/audit-record.js';
import { IsInstanceId, IsLockRequestId, IsProjectId } from '../../common/id-validators.js';

export enum AuditOutcomeEnum {
  SUCCEEDED = 'succeeded',
  DENIED = 'denied',
  REJECTED = 'rejected',
  FAILED = 'failed',
  UNKNOWN = 'unknown',
}
registerEnumType(AuditOutcomeEnum, { name: 'AuditOutcome' });

const FIRST_RULE = `must be an integer from 1 to ${AUDIT_LIST_MAX_LIMIT}`;

@InputType()
export class AuditEventFilter {
  @Field({ nullable: true })
  @IsOptional()
  @IsProjectId()
  projectId?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsInstanceId()
  instanceId?: string;

  @Field(() => AuditOutcomeEnum, { nullable: true })
  @IsOptional()
  @IsEnum(AuditOutcomeEnum)
  outcome?: AuditOutcomeEnum;

  @Field(() => ID, { nullable: true, description: 'the rows of one lock request' })
  @IsOptional()
  @IsLockRequestId()
  lockRequestId?: string;

  @Field(() => Date, { nullable: true, description: 'inclusive' })
  @IsOptional()
  @IsDate()
  since?: Date;

  @Field(() => Date, { nullable: true, description: 'exclusive' })
  @IsOptional()
  @IsDate()
  until?: Date;
}

@ArgsType()
export class AuditEventsArgs {
  @Field(() => AuditEventFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AuditEventFilter)
  filter?: AuditEventFilter;

  @Field(() => Int, { nullable: true, defaultValue: AUDIT_LIST_DEFAULT_LIMIT })
  @IsOptional()
  @IsInt({ message: FIRST_RULE })
  @Min(1, { message: FIRST_RULE })
  @Max(AUDIT_LIST_MAX_LIMIT, { message: FIRST_RULE })
  first?: number | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(200, { message: 'is not a cursor' })
  after?: string;
}
