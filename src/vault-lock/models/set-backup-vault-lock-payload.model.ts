import { Field, ObjectType } from '@nestjs/graphql';
import { PolicyDecision } from './policy-decision.model.js';

@ObjectType()
export class SetBackupVaultLockPayload {
  @Field({ description: '"success", or "dry-run" when TaurusDB was not called' })
  result!: string;

  @Field()
  requestId!: string;

  @Field()
  auditId!: string;

  @Field(() => PolicyDecision)
  decision!: PolicyDecision;
}
