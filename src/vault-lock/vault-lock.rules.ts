import { applyDecorators } from '@nestjs/common';
import { Equals, IsInt, Max, Min } from 'class-validator';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, RETENTION_RULE } from '../domain/retention.js';

/** Upstream rules of DESIGN §1 as validation decorators, shared by the REST DTOs and the GraphQL input. */
export const IsRetentionDays = () =>
  applyDecorators(
    IsInt({ message: RETENTION_RULE }),
    Min(MIN_RETENTION_DAYS, { message: RETENTION_RULE }),
    Max(MAX_RETENTION_DAYS, { message: RETENTION_RULE }),
  );

/** `lock_policy` can only be true: there is no way to switch a vault lock off. */
export const IsLockPolicy = () =>
  Equals(true, { message: 'must be true (a vault lock cannot be disabled)' });
