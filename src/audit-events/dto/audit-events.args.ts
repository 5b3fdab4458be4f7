import { ArgsType, Field, ID, InputType, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsDate, IsEnum, IsOptional, ValidateNested } from 'class-validator';
import { AUDIT_LIST_DEFAULT_LIMIT, AUDIT_LIST_MAX_LIMIT } from '../../audit/audit-record.js';
import { IsInstanceId, IsLockRequestId, IsProjectId } from '../../common/id-validators.js';
import { AfterArg, FirstArg } from '../../common/graphql/page-args.js';

export enum AuditOutcomeEnum {
  SUCCEEDED = 'succeeded',
  DENIED = 'denied',
  REJECTED = 'rejected',
  FAILED = 'failed',
  UNKNOWN = 'unknown',
}
registerEnumType(AuditOutcomeEnum, { name: 'AuditOutcome' });

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

  @FirstArg(AUDIT_LIST_DEFAULT_LIMIT, AUDIT_LIST_MAX_LIMIT)
  first?: number | null;

  @AfterArg()
  after?: string;
}
