import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions } from '@nestjs/swagger';

/** Checks by name (policy, audit, iam, taurusdb, and redis when configured), each with its status and, if down, why. */
const checks = (description: string): ApiPropertyOptions => ({
  type: 'object',
  description,
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'down'] } },
    additionalProperties: true,
  },
});

/** The report of a health check, as `@nestjs/terminus` writes it, for 200 and 503 alike. */
export class HealthReportDto {
  @ApiProperty({
    enum: ['ok', 'degraded', 'error', 'shutting_down'],
    description:
      '`degraded` (still 200): Redis is configured but down, and in-process fallbacks serve',
  })
  status!: string;

  @ApiPropertyOptional(checks('The checks that are up'))
  info?: Record<string, unknown>;

  @ApiPropertyOptional(checks('The checks that are down, each saying why'))
  error?: Record<string, unknown>;

  @ApiProperty(checks('Every check'))
  details!: Record<string, unknown>;
}
