/** How long a vault lock may hold, in days (DESIGN §1). */
export const MIN_RETENTION_DAYS = 1;
export const MAX_RETENTION_DAYS = 36500;
export const RETENTION_RULE = `must be an integer from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}`;
