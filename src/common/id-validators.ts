import { Matches } from 'class-validator';
import {
  BULK_JOB_ID_PATTERN,
  BULK_JOB_ID_RULE,
  INSTANCE_ID_PATTERN,
  INSTANCE_ID_RULE,
  LOCK_REQUEST_ID_PATTERN,
  LOCK_REQUEST_ID_RULE,
  PROJECT_ID_PATTERN,
  PROJECT_ID_RULE,
} from '../domain/ids.js';

/** The ID rules of DESIGN §1 as validation decorators, for every DTO and input that takes IDs. */
export const IsProjectId = () => Matches(PROJECT_ID_PATTERN, { message: PROJECT_ID_RULE });
export const IsInstanceId = () => Matches(INSTANCE_ID_PATTERN, { message: INSTANCE_ID_RULE });
export const IsLockRequestId = () =>
  Matches(LOCK_REQUEST_ID_PATTERN, { message: LOCK_REQUEST_ID_RULE });
export const IsBulkJobId = () => Matches(BULK_JOB_ID_PATTERN, { message: BULK_JOB_ID_RULE });

/** The same rules as the OpenAPI document states them, for every REST parameter that takes IDs. */
export const PROJECT_ID_SCHEMA = {
  pattern: PROJECT_ID_PATTERN.source,
  description: PROJECT_ID_RULE,
  example: '0a1b2c3d4e5f60718293a4b5c6d7e8f9',
};
export const INSTANCE_ID_SCHEMA = {
  pattern: INSTANCE_ID_PATTERN.source,
  description: INSTANCE_ID_RULE,
  example: 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6in07',
};
export const LOCK_REQUEST_ID_SCHEMA = {
  pattern: LOCK_REQUEST_ID_PATTERN.source,
  format: 'uuid',
  description: LOCK_REQUEST_ID_RULE,
  example: '019ad1e2-7c3b-7a10-8f2e-5b6c7d8e9f01',
};
export const BULK_JOB_ID_SCHEMA = {
  pattern: BULK_JOB_ID_PATTERN.source,
  format: 'uuid',
  description: BULK_JOB_ID_RULE,
  example: '019ad1e2-7c3b-7a10-8f2e-5b6c7d8e9f02',
};
