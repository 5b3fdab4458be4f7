import { ArgsType, Field, Int } from '@nestjs/graphql';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { CHECKPOINT_LIST_DEFAULT_LIMIT, CHECKPOINT_LIST_MAX_LIMIT } from './checkpoint-limits.js';

const FIRST_RULE = `must be an integer from 1 to ${CHECKPOINT_LIST_MAX_LIMIT}`;

@ArgsType()
export class AuditCheckpointsArgs {
  @Field(() => Int, { nullable: true, defaultValue: CHECKPOINT_LIST_DEFAULT_LIMIT })
  @IsOptional()
  @IsInt({ message: FIRST_RULE })
  @Min(1, { message: FIRST_RULE })
  @Max(CHECKPOINT_LIST_MAX_LIMIT, { message: FIRST_RULE })
  first?: number | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(200, { message: 'is not a cursor' })
  after?: string;
}
