/**
 * Durations as policies and configuration write them (DESIGN §6): a whole number followed by
 * one unit, `s`, `m`, `h` or `d`, such as `90s`, `15m`, `24h` or `3d`.
 */
const DURATION_PATTERN = /^(\d{1,9})(s|m|h|d)$/;

const SECONDS_PER_UNIT = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

export const DURATION_RULE =
  'must be a whole number followed by s, m, h or d (e.g. 90s, 15m, 24h, 3d)';

/** Seconds, or undefined when `text` is not a duration. */
export function parseDurationSeconds(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = DURATION_PATTERN.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * SECONDS_PER_UNIT[match[2] as keyof typeof SECONDS_PER_UNIT];
}
