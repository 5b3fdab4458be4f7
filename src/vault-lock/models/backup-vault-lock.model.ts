import { Field, ID, Int, ObjectType } from '@nestjs/graphql';

@ObjectType()
export class BackupVaultLock {
  @Field(() => ID)
  projectId!: string;

  @Field(() => ID)
  instanceId!: string;

  @Field()
  enabled!: boolean;

  @Field(() => Int, { nullable: true })
  retentionDays!: number | null;

  @Field(() => Date, { nullable: true })
  startsAt!: Date | null;

  @Field(() => Date, { nullable: true })
  endsAt!: Date | null;
}
