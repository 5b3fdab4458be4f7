/**
 * Who background work (expiring, executing and settling lock requests) acts as in audit rows
 * and lock-request transitions. Nobody signed in: there is no token, no group and no caller
 * address, and the issuer is the gateway itself, so no identity provider's subject can match it.
 */
export const BACKGROUND_PRINCIPAL = {
  issuer: 'vault-lock-gateway',
  subject: 'scheduler',
  callerAddress: '-',
} as const;
