import type { Principal } from '../auth/principal.js';

export type Channel = 'graphql' | 'rest';

/** What the use case needs to know about the call, whichever channel it came through. */
export interface CallContext {
  requestId: string;
  channel: Channel;
  principal: Principal;
  callerAddress: string;
}
