import { Args, Context, Query, Resolver } from '@nestjs/graphql';
import { callContextOf, type GraphqlContext } from '../common/gateway-request.js';
import { FleetArgs } from './dto/fleet.args.js';
import { FleetConnection } from './models/fleet-instance.model.js';
import { FLEET_DEFAULT_LIMIT, FleetService } from './fleet.service.js';

@Resolver()
export class FleetResolver {
  constructor(private readonly fleetService: FleetService) {}

  @Query(() => FleetConnection, {
    description:
      "The project's instances the caller may see, in TaurusDB's list order, with their locks",
  })
  async fleet(
    @Args() args: FleetArgs,
    @Context() context: GraphqlContext,
  ): Promise<FleetConnection> {
    // GraphQL lets a caller send null for any optional argument or field: null means "not given".
    const filter = args.filter ?? {};
    const page = await this.fleetService.page(callContextOf(context.req, 'graphql'), {
      projectId: args.projectId,
      filter: {
        enterpriseProjectIds: filter.enterpriseProjectIds ?? undefined,
        tags: filter.tags ?? undefined,
        locked: filter.locked ?? undefined,
      },
      limit: args.first ?? FLEET_DEFAULT_LIMIT,
      cursor: args.after ?? undefined,
      cursorField: 'after',
    });
    return {
      nodes: page.instances,
      pageInfo: { hasNextPage: page.nextCursor !== null, endCursor: page.nextCursor },
    };
  }
}
