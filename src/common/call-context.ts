import type { Principal } from '../domain/principal.js';

export type Channel = 'graphql' | 'rest';

/** What the use case needs to know about the call, whichever channel it came through. */
export interface CallContext {
  /** The gateway's own id of this request: unique, in logs, answers and the audit row. */
  requestId: string;
  /** The caller's sane `X-Request-Id`, if it sent one. */
  correlationId: string | null;
  channel: Channel;
  principal: Principal;
  callerAddress: string;
  /**
   * Whose IAM token TaurusDB is called with: absent, the caller's own; `service`, the gateway's,
   * for work done on the caller's behalf after its token has expired (the items of a bulk job).
   * The policy decision stays the principal's either way.
   */
  identity?: 'caller' | 'service';
}
