import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import type { BulkItemState, BulkJobState } from '../../domain/bulk-lock-job.js';

export enum BulkLockJobStateEnum {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  FINISHED = 'FINISHED',
}
registerEnumType(BulkLockJobStateEnum, { name: 'BulkLockJobState' });

export enum BulkLockItemStateEnum {
  PENDING = 'PENDING',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  DENIED = 'DENIED',
  PENDING_APPROVAL = 'PENDING_APPROVAL',
  SCHEDULED = 'SCHEDULED',
}
registerEnumType(BulkLockItemStateEnum, { name: 'BulkLockItemState' });

@ObjectType()
export class BulkLockItem {
  @Field(() => ID) instanceId!: string;
  @Field(() => BulkLockItemStateEnum) state!: BulkItemState;
  @Field(() => String, {
    nullable: true,
    description: 'success, dry-run, pending-approval or scheduled',
  })
  result!: string | null;
  @Field(() => String, { nullable: true }) errorCode!: string | null;
  @Field(() => String, { nullable: true }) auditId!: string | null;
  @Field(() => ID, { nullable: true }) lockRequestId!: string | null;
}

@ObjectType()
export class BulkLockJob {
  @Field(() => ID) id!: string;
  @Field(() => BulkLockJobStateEnum) state!: BulkJobState;
  @Field(() => Int) total!: number;
  @Field(() => Int, { description: 'items that have ended' }) done!: number;
  @Field(() => [BulkLockItem], { description: "In TaurusDB's list order" })
  items!: BulkLockItem[];
}
