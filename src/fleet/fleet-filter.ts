import type { TagFilter } from '../domain/tag-filter.js';

/** Which instances of a project a fleet page shows, besides what the caller may see at all. */
export interface FleetFilter {
  /** Any of these; filtered by the gateway, since TaurusDB's list has no such filter. */
  enterpriseProjectIds?: readonly string[];
  /** Every one of these; sent to TaurusDB's list. */
  tags?: readonly TagFilter[];
  /**
   * true: locked instances, false: unlocked ones. An instance whose lock could not be read is
   * kept under either value, with its lockError, since it cannot be ruled out.
   */
  locked?: boolean;
}

/** Huawei's enterprise project ids: `0` (the default project) or a UUID. */
export const ENTERPRISE_PROJECT_ID_PATTERN =
  /^(0|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;
export const ENTERPRISE_PROJECT_ID_RULE = 'each must be 0 or an enterprise project UUID';
export const MAX_ENTERPRISE_PROJECT_FILTERS = 20;
