/**
 * DESIGN §5: an idempotency key is kept 24 h from the call that first used it, on every call
 * that takes one (a single change, a bulk job). After that the key is free for a new call.
 */
export const IDEMPOTENCY_KEY_KEPT_MS = 24 * 60 * 60 * 1000;
