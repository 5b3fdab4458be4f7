import { ArgsType, Field, ID, InputType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsBoolean,
  IsOptional,
  Matches,
  ValidateNested,
} from 'class-validator';
import { IsProjectId } from '../../common/id-validators.js';
import {
  MAX_TAG_FILTERS,
  TAG_FILTER_RULE,
  TAG_KEY_PATTERN,
  TAG_VALUE_PATTERN,
} from '../../domain/tag-filter.js';
import {
  ENTERPRISE_PROJECT_ID_PATTERN,
  ENTERPRISE_PROJECT_ID_RULE,
  MAX_ENTERPRISE_PROJECT_FILTERS,
} from '../fleet-filter.js';
import { FLEET_DEFAULT_LIMIT, FLEET_MAX_LIMIT } from '../fleet.service.js';
import { AfterArg, FirstArg } from '../../common/graphql/page-args.js';

@InputType({ description: 'A tag the instance must carry, key and value exactly' })
export class TagFilterInput {
  @Field()
  @Matches(TAG_KEY_PATTERN, { message: TAG_FILTER_RULE })
  key!: string;

  @Field()
  @Matches(TAG_VALUE_PATTERN, { message: TAG_FILTER_RULE })
  value!: string;
}

@InputType('FleetFilter')
export class FleetFilterInput {
  @Field(() => [String], { nullable: true, description: 'any of these enterprise projects' })
  @IsOptional()
  @ArrayMinSize(1, { message: 'must be a non-empty list' })
  @ArrayMaxSize(MAX_ENTERPRISE_PROJECT_FILTERS, {
    message: `must hold at most ${MAX_ENTERPRISE_PROJECT_FILTERS} ids`,
  })
  @Matches(ENTERPRISE_PROJECT_ID_PATTERN, { each: true, message: ENTERPRISE_PROJECT_ID_RULE })
  enterpriseProjectIds?: string[] | null;

  @Field(() => [TagFilterInput], { nullable: true, description: 'every one of these tags' })
  @IsOptional()
  @ArrayMaxSize(MAX_TAG_FILTERS, { message: `must hold at most ${MAX_TAG_FILTERS} tags` })
  @ValidateNested({ each: true })
  @Type(() => TagFilterInput)
  tags?: TagFilterInput[] | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'true: locked instances only, false: unlocked ones; an instance whose lock could not be read is kept either way, with lockError',
  })
  @IsOptional()
  @IsBoolean()
  locked?: boolean | null;
}

@ArgsType()
export class FleetArgs {
  @Field(() => ID, { description: '32 letters/digits' })
  @IsProjectId()
  projectId!: string;

  @Field(() => FleetFilterInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => FleetFilterInput)
  filter?: FleetFilterInput | null;

  @FirstArg(FLEET_DEFAULT_LIMIT, FLEET_MAX_LIMIT)
  first?: number | null;

  @AfterArg({ description: 'the endCursor of the previous page' })
  after?: string | null;
}
