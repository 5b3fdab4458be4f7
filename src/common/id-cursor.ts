import { validate as isUuid } from 'uuid';
import { GatewayError } from './gateway-error.js';

/**
 * The opaque cursor of a listing whose rows have UUID ids, newest first: the last id of the
 * page, base64url, so that callers do not build cursors of their own.
 */
export function encodeIdCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** The id a cursor holds; a 400 naming `cursor` when it is not one `encodeIdCursor` made. */
export function decodeIdCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) throw GatewayError.validation('cursor', 'is not a cursor this gateway issued');
  return id;
}
