import { Field, ID, Int, ObjectType } from '@nestjs/graphql';
import { PageInfo } from '../../common/graphql/page-info.model.js';
import { AuditOutcomeEnum } from '../dto/audit-events.args.js';

@ObjectType()
export class AuditEvent {
  @Field(() => ID) id!: string;
  @Field(() => Int, {
    nullable: true,
    description: 'chain position; null while the attempt is open',
  })
  seq!: number | null;
  @Field(() => Date) startedAt!: string;
  @Field(() => Date, { nullable: true }) completedAt!: string | null;
  @Field({ description: "the gateway's own id of the request, unique per row" })
  requestId!: string;
  @Field(() => String, {
    nullable: true,
    description: "the caller's X-Request-Id, when it sent a sane one",
  })
  correlationId!: string | null;
  @Field({ description: 'graphql, rest, or scheduler for rows written by background work' })
  channel!: string;
  @Field() principalIss!: string;
  @Field() principalSub!: string;
  @Field() callerAddress!: string;
  @Field(() => ID) projectId!: string;
  @Field(() => ID) instanceId!: string;
  @Field() action!: string;
  @Field(() => Int, { nullable: true }) retentionDays!: number | null;
  @Field() dryRun!: boolean;
  @Field() decisionAllowed!: boolean;
  @Field(() => String, { nullable: true }) decisionRule!: string | null;
  @Field(() => [String]) decisionReasons!: readonly string[];
  @Field() policyVersion!: string;
  @Field(() => ID, { nullable: true, description: 'the lock request this row is a transition of' })
  lockRequestId!: string | null;
  @Field(() => ID, {
    nullable: true,
    description: 'on a settle row: the id of the unknown row it settles',
  })
  settlesAuditId!: string | null;
  @Field(() => String, {
    nullable: true,
    description: 'the OpenTelemetry trace id of the call that wrote the row, when traced',
  })
  traceId!: string | null;
  @Field(() => AuditOutcomeEnum, { nullable: true }) outcome!: string | null;
  @Field(() => Int, { nullable: true }) upstreamStatus!: number | null;
  @Field(() => String, { nullable: true }) errorCode!: string | null;
  @Field(() => Int, { nullable: true }) durationMs!: number | null;
  @Field(() => String, { nullable: true }) prevHash!: string | null;
  @Field(() => String, { nullable: true }) hash!: string | null;
}

@ObjectType()
export class AuditEventConnection {
  @Field(() => [AuditEvent]) nodes!: AuditEvent[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}
