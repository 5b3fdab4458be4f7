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
    const page = await this.fleetService.page(callContextOf(context.req, 'graphql'), {
      projectId: args.projectId,
      filter: args.filter ?? {},
      limit: args.first ?? FLEET_DEFAULT_LIMIT,
      cursor: args.after,
      cursorField: 'after',
    });
    return {
      nodes: page.instances,
      pageInfo: { hasNextPage: page.nextCursor !== null, endCursor: page.nextCursor },
    };
  }
}
