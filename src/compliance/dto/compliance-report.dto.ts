import { ApiProperty } from '@nestjs/swagger';

export class ComplianceInstanceDto {
  @ApiProperty() instance_id!: string;
  @ApiProperty({ description: 'false when unlocked, shorter than required, or unreadable' })
  compliant!: boolean;
  @ApiProperty({ type: 'integer', nullable: true }) retention_days!: number | null;
  @ApiProperty({ type: 'integer' }) required_days!: number;
  @ApiProperty() rule_id!: string;
  @ApiProperty({ type: 'string', nullable: true }) lock_error!: string | null;
}

export class ComplianceReportDto {
  @ApiProperty({
    type: [ComplianceInstanceDto],
    description:
      "Every instance a rule with minRetentionDays covers that the caller may show, in TaurusDB's list order. Under Accept: text/csv the same rows as CSV with a header row",
  })
  instances!: ComplianceInstanceDto[];
}
