import { Args, Context, Query, Resolver } from '@nestjs/graphql';
import { callContextOf, type GraphqlContext } from '../common/gateway-request.js';
import { ComplianceService } from './compliance.service.js';
import { ComplianceReportArgs } from './dto/compliance.args.js';
import { ComplianceReport } from './models/compliance-report.model.js';

@Resolver()
export class ComplianceResolver {
  constructor(private readonly compliance: ComplianceService) {}

  @Query(() => ComplianceReport)
  async complianceReport(
    @Args() args: ComplianceReportArgs,
    @Context() context: GraphqlContext,
  ): Promise<ComplianceReport> {
    const ctx = callContextOf(context.req, 'graphql');
    return {
      projectId: args.projectId,
      instances: await this.compliance.report(ctx, args.projectId),
    };
  }
}
