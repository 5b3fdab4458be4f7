import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { PageInfo } from '../../common/graphql/page-info.model.js';
import { VaultLockActionEnum } from '../../common/graphql/vault-lock-action.enum.js';
import { LOCK_REQUEST_STATES, type LockRequestState } from '../../domain/lock-request.js';

/** The states of DESIGN §6, named as they are stored. */
export const LockRequestStateEnum = Object.fromEntries(
  LOCK_REQUEST_STATES.map((state) => [state, state]),
) as { [S in LockRequestState]: S };
registerEnumType(LockRequestStateEnum, { name: 'LockRequestState' });

@ObjectType('Approval')
export class ApprovalModel {
  @Field({ description: 'iss#sub of the approver' }) approver!: string;
  @Field({ description: '"approve" or "deny"' }) decision!: string;
  @Field(() => String, { nullable: true }) comment!: string | null;
  @Field(() => Date) at!: string;
}

@ObjectType('LockRequest')
export class LockRequestModel {
  @Field(() => ID) id!: string;
  @Field(() => LockRequestStateEnum) state!: LockRequestState;
  @Field(() => ID) projectId!: string;
  @Field(() => ID) instanceId!: string;
  @Field(() => VaultLockActionEnum) action!: string;
  @Field(() => Int) lockRetentionDays!: number;
  @Field({ description: 'iss#sub of the requester' }) requester!: string;
  @Field(() => Int) approvalsRequired!: number;
  @Field(() => [ApprovalModel]) approvals!: ApprovalModel[];
  @Field(() => Date, {
    nullable: true,
    description: 'earliest execution; null while approvals are missing',
  })
  notBefore!: string | null;
  @Field(() => Date, {
    description:
      'while pending: the end of the approval TTL; once scheduled: the end of the execution window',
  })
  expiresAt!: string;
  @Field(() => Date) createdAt!: string;
  @Field(() => Date) updatedAt!: string;
  @Field(() => String, {
    nullable: true,
    description: 'why it ended as it did (denied, cancelled, expired, voided, failed, unknown)',
  })
  reason!: string | null;
}

@ObjectType()
export class LockRequestConnection {
  @Field(() => [LockRequestModel]) nodes!: LockRequestModel[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}
