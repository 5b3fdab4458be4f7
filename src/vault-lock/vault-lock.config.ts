import { registerAs } from '@nestjs/config';
import { IsIn, IsOptional } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';

/**
 * Which reads of a lock (`show`) leave an audit row: `denied` every read that was not allowed
 * (refused by policy, or stopped before the decision), `all` every read, `none` none.
 */
export const AUDIT_READS = ['denied', 'all', 'none'] as const;
export type AuditReads = (typeof AUDIT_READS)[number];

class VaultLockEnv {
  @IsOptional()
  @IsIn(AUDIT_READS, { message: `must be one of ${AUDIT_READS.join(', ')}` })
  AUDIT_READS?: AuditReads;
}

export interface VaultLockConfig {
  auditReads: AuditReads;
}

export const vaultLockConfig = registerAs('vaultLock', (): VaultLockConfig => {
  const env = validateEnv(process.env, VaultLockEnv);
  return { auditReads: env.AUDIT_READS ?? 'denied' };
});
