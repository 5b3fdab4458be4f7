import { applyDecorators } from '@nestjs/common';
import { Equals, IsInt, Max, Min } from 'class-validator';

/** Upstream rules of DESIGN §1, shared by the REST DTOs and the GraphQL input. */
export const MIN_RETENTION_DAYS = 1;
export const MAX_RETENTION_DAYS = 36500;
const RETENTION_RULE = `must be an integer from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}`;

export const VAULT_LOCK_ACTIONS = ['enable', 'extend'] as const;
export type VaultLockAction = (typeof VAULT_LOCK_ACTIONS)[number];

export const IsRetentionDays = () =>
  applyDecorators(
    IsInt({ message: RETENTION_RULE }),
    Min(MIN_RETENTION_DAYS, { message: RETENTION_RULE }),
    Max(MAX_RETENTION_DAYS, { message: RETENTION_RULE }),
  );

/** `lock_policy` can only be true: there is no way to switch a vault lock off. */
export const IsLockPolicy = () =>
  Equals(true, { message: 'must be true (a vault lock cannot be disabled)' });
