import { Field, ID, Int, ObjectType } from '@nestjs/graphql';

@ObjectType()
export class ComplianceInstance {
  @Field(() => ID) instanceId!: string;

  @Field({ description: 'locked for at least requiredDays; false when the lock could not be read' })
  compliant!: boolean;

  @Field(() => Int, { nullable: true, description: 'null when unlocked or unread' })
  retentionDays!: number | null;

  @Field(() => Int) requiredDays!: number;

  @Field({ description: 'the rule whose minRetentionDays applies (the largest that covers it)' })
  ruleId!: string;

  @Field(() => String, { nullable: true, description: 'the error code of a failed lock read' })
  lockError!: string | null;
}

@ObjectType()
export class ComplianceReport {
  @Field(() => ID) projectId!: string;

  @Field(() => [ComplianceInstance], {
    description:
      "every instance a rule with minRetentionDays covers that the caller may show, in TaurusDB's list order",
  })
  instances!: ComplianceInstance[];
}
