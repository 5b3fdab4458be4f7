import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import {
  ApiErrorResponses,
  AUTHENTICATED_ROUTE_ERRORS,
  answerHeaders,
  ErrorCases,
} from '../common/api-responses.js';
import { callContextOf, type GatewayRequest } from '../common/gateway-request.js';
import { complianceCsv } from './compliance-csv.js';
import { ComplianceService } from './compliance.service.js';
import { ComplianceReportDto } from './dto/compliance-report.dto.js';
import { CompliancePathDto } from './dto/compliance.args.js';

/** CSV only when the caller asks for it; JSON otherwise, `*\/*` included. */
const wantsCsv = (accept: string | undefined): boolean =>
  (accept ?? '')
    .split(',')
    .some((range) => range.split(';')[0].trim().toLowerCase() === 'text/csv');

@ApiTags('compliance')
@Controller('v1/projects/:project_id/compliance')
export class ComplianceController {
  constructor(private readonly compliance: ComplianceService) {}

  @Get()
  @ApiOperation({
    summary: "Which instances hold their lock as long as the policy's minRetentionDays asks",
  })
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({
    type: ComplianceReportDto,
    description: 'JSON, or CSV with a header row under Accept: text/csv',
    headers: answerHeaders(),
  })
  @ApiErrorResponses([
    ...AUTHENTICATED_ROUTE_ERRORS,
    ErrorCases.policyDenied,
    ErrorCases.iamRefused,
    ErrorCases.upstreamForbidden,
    ErrorCases.upstreamThrottled,
    ErrorCases.upstreamFailed,
    ErrorCases.upstreamUnavailable,
    ErrorCases.iamUnavailable,
    ErrorCases.upstreamTimeout,
  ])
  async report(
    @Param() path: CompliancePathDto,
    @Req() req: GatewayRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ComplianceReportDto | string> {
    const entries = await this.compliance.report(callContextOf(req, 'rest'), path.project_id);
    if (wantsCsv(req.headers.accept)) {
      void reply.type('text/csv; charset=utf-8');
      return complianceCsv(entries);
    }
    return {
      instances: entries.map((entry) => ({
        instance_id: entry.instanceId,
        compliant: entry.compliant,
        retention_days: entry.retentionDays,
        required_days: entry.requiredDays,
        rule_id: entry.ruleId,
        lock_error: entry.lockError,
      })),
    };
  }
}
