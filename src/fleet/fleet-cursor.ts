import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { GatewayError } from '../common/gateway-error.js';
import type { FleetFilter } from './fleet-filter.js';

/** Past this, an offset is not one TaurusDB's list could have answered. */
const MAX_OFFSET = 10_000_000;
const MAX_CURSOR_CHARS = 200;
const NOT_A_CURSOR =
  'is not a cursor of this listing (it belongs to another project or filter, or was altered)';

/**
 * Where the next page starts: the offset in TaurusDB's list (with the same tags filter) of the
 * first instance not yet examined, bound to the project and filter it was issued for. Paging
 * follows TaurusDB's list order, so an instance created or deleted between two pages can shift
 * the list by one: at most one instance is then skipped or shown twice.
 */
export interface FleetCursor {
  offset: number;
}

function listingKey(projectId: string, filter: FleetFilter): string {
  const normalised = {
    projectId,
    enterpriseProjectIds: [...new Set(filter.enterpriseProjectIds ?? [])].sort(),
    tags: [...(filter.tags ?? [])].map(({ key, value }) => `${key}=${value}`).sort(),
    locked: filter.locked ?? null,
  };
  return createHash('sha256')
    .update(canonicalize(normalised) ?? '')
    .digest('base64url')
    .slice(0, 16);
}

export function encodeFleetCursor(
  projectId: string,
  filter: FleetFilter,
  cursor: FleetCursor,
): string {
  const body = JSON.stringify({ o: cursor.offset, k: listingKey(projectId, filter) });
  return Buffer.from(body, 'utf8').toString('base64url');
}

/** `field` is the name the caller used: `after` (GraphQL) or `cursor` (REST). */
export function decodeFleetCursor(
  value: string,
  projectId: string,
  filter: FleetFilter,
  field: string,
): FleetCursor {
  const refused = GatewayError.validation(field, NOT_A_CURSOR);
  if (value.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(value)) throw refused;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw refused;
  }
  const { o: offset, k: key } = (parsed ?? {}) as Record<string, unknown>;
  if (
    !Number.isSafeInteger(offset) ||
    (offset as number) < 0 ||
    (offset as number) > MAX_OFFSET ||
    key !== listingKey(projectId, filter)
  ) {
    throw refused;
  }
  return { offset: offset as number };
}
