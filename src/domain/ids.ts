/**
 * The ID shapes of DESIGN §1. They are checked before any upstream URL is built, so a path
 * segment can never carry `../`, `%2F` or anything but letters and digits.
 */
export const PROJECT_ID_PATTERN = /^[A-Za-z0-9]{32}$/;
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9]{32}in07$/;
/** Any UUID: the gateway makes lock request ids (UUIDv7), and a caller only ever repeats one. */
export const LOCK_REQUEST_ID_PATTERN =
  /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

export const PROJECT_ID_RULE = 'must be exactly 32 letters or digits';
export const INSTANCE_ID_RULE = 'must be exactly 36 letters or digits ending in in07';
export const LOCK_REQUEST_ID_RULE = 'must be a lock request id (a UUID)';

/** Bulk jobs are named like lock requests: a UUID the gateway made. */
export const BULK_JOB_ID_PATTERN = LOCK_REQUEST_ID_PATTERN;
export const BULK_JOB_ID_RULE = 'must be a bulk job id (a UUID)';

export const isProjectId = (value: unknown): value is string =>
  typeof value === 'string' && PROJECT_ID_PATTERN.test(value);

export const isInstanceId = (value: unknown): value is string =>
  typeof value === 'string' && INSTANCE_ID_PATTERN.test(value);
