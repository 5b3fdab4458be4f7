import { Field, ID, ObjectType } from '@nestjs/graphql';
import { PolicyDecision } from './policy-decision.model.js';

@ObjectType()
export class SetBackupVaultLockPayload {
  @Field({
    description:
      '"success"; "dry-run" when TaurusDB was not called; "pending-approval" or "scheduled" when the policy defers the change to a lock request',
  })
  result!: string;

  @Field()
  requestId!: string;

  @Field()
  auditId!: string;

  @Field(() => PolicyDecision)
  decision!: PolicyDecision;

  @Field(() => ID, {
    nullable: true,
    description: 'The lock request that stands in for the change, when the policy deferred it',
  })
  lockRequestId?: string | null;
}
