import { Field, ObjectType } from '@nestjs/graphql';

@ObjectType()
export class PolicyDecision {
  @Field()
  allowed!: boolean;

  @Field(() => String, { nullable: true })
  ruleId!: string | null;

  @Field(() => [String])
  reasons!: string[];

  @Field()
  policyVersion!: string;
}
