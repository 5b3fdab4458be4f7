import { BACKGROUND_PRINCIPAL } from '../domain/background-principal.js';
import { Principal } from '../domain/principal.js';
import type { TaurusDbCaller } from '../taurusdb/taurusdb.js';

/** Nobody signed in: no token to exchange, no group. */
const BACKGROUND = new Principal(BACKGROUND_PRINCIPAL.issuer, BACKGROUND_PRINCIPAL.subject, [], '');

/** Background work calls TaurusDB with the gateway's own IAM identity. */
export function backgroundCaller(requestId: string): TaurusDbCaller {
  return { principal: BACKGROUND, requestId, identity: 'service' };
}
