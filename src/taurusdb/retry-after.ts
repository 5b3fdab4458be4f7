/**
 * Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP-date, RFC 9110 §10.2.3),
 * or undefined when the header is absent or unreadable.
 */
export function parseRetryAfterSeconds(header: unknown, nowMs: number): number | undefined {
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  if (/^\d{1,9}$/.test(value)) return Number(value);
  const at = Date.parse(value);
  if (!/[A-Za-z]/.test(value) || Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}
