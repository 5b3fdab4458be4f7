import { Args, Context, Query, Resolver } from '@nestjs/graphql';
import { callContextOf, type GraphqlContext } from '../common/gateway-request.js';
import { AUDIT_LIST_DEFAULT_LIMIT } from '../audit/audit-record.js';
import { AuditEventsService } from './audit-events.service.js';
import { AuditEventsArgs } from './dto/audit-events.args.js';
import { AuditEventConnection } from './models/audit-event.model.js';

@Resolver()
export class AuditEventsResolver {
  constructor(private readonly trail: AuditEventsService) {}

  @Query(() => AuditEventConnection)
  async auditEvents(
    @Args() args: AuditEventsArgs,
    @Context() context: GraphqlContext,
  ): Promise<AuditEventConnection> {
    const { principal } = callContextOf(context.req, 'graphql');
    const page = await this.trail.list(
      principal,
      args.filter ?? {},
      args.first ?? AUDIT_LIST_DEFAULT_LIMIT,
      args.after,
    );
    return {
      nodes: page.events,
      pageInfo: { hasNextPage: page.nextCursor !== null, endCursor: page.nextCursor },
    };
  }
}
