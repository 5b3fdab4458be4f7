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
