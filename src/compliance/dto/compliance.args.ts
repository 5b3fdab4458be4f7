import { ArgsType, Field, ID } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { IsProjectId, PROJECT_ID_SCHEMA } from '../../common/id-validators.js';

@ArgsType()
export class ComplianceReportArgs {
  @Field(() => ID, { description: '32 letters/digits' })
  @IsProjectId()
  projectId!: string;
}

export class CompliancePathDto {
  @ApiProperty(PROJECT_ID_SCHEMA)
  @IsProjectId()
  project_id!: string;
}
