import { Field, Int, ObjectType } from '@nestjs/graphql';

@ObjectType()
export class PolicyDecision {
  @Field()
  allowed!: boolean;

  @Field(() => String, { nullable: true })
  ruleId!: string | null;

  @Field(() => [String])
  reasons!: string[];

  @Field(() => Int, {
    description: 'Distinct approvals needed before the change is applied; 0 when none',
  })
  approvalsRequired!: number;

  @Field(() => [String], { description: 'Groups whose members may approve; empty when none' })
  approverGroups!: string[];

  @Field(() => Int, {
    description: 'Seconds between the last approval (or the request) and the change; 0 when none',
  })
  coolingOffSeconds!: number;

  @Field()
  policyVersion!: string;
}
