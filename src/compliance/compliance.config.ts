import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';
import { PROJECT_ID_PATTERN, PROJECT_ID_RULE } from '../domain/ids.js';

/** One or more project ids, comma-separated, spaces around them allowed. */
const PROJECT_LIST_PATTERN = new RegExp(
  `^\\s*${PROJECT_ID_PATTERN.source.slice(1, -1)}\\s*(,\\s*${PROJECT_ID_PATTERN.source.slice(1, -1)}\\s*)*$`,
);

class ComplianceEnv {
  @IsOptional()
  @Matches(PROJECT_LIST_PATTERN, {
    message: `must be a comma-separated list of project ids, each ${PROJECT_ID_RULE}`,
  })
  COMPLIANCE_PROJECTS?: string;

  @IsOptional() @IsInt() @Min(1) @Max(10_080) COMPLIANCE_INTERVAL_MINUTES?: number;
}

export interface ComplianceConfig {
  /** The projects whose non-compliant instances the gauge counts; none when empty. */
  projects: string[];
  intervalMinutes: number;
}

export const complianceConfig = registerAs('compliance', (): ComplianceConfig => {
  const env = validateEnv(process.env, ComplianceEnv);
  return {
    projects: [
      ...new Set((env.COMPLIANCE_PROJECTS ?? '').split(',').map((id) => id.trim())),
    ].filter((id) => id !== ''),
    intervalMinutes: env.COMPLIANCE_INTERVAL_MINUTES ?? 60,
  };
});
