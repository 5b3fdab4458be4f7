import { toWellFormed } from './unicode-text.js';

/**
 * Text that came from outside (an upstream error message, a tag value, a caller's group) made
 * safe to echo and to store: control characters (C0, DEL, C1, and the Unicode line and paragraph
 * separators) are written as `\uXXXX`, so a terminal or a log reader never acts on them; a lone
 * UTF-16 surrogate becomes U+FFFD, so the text can be encoded at all; and the result is at most
 * `maxChars` long, cut with `…` when the original was longer.
 */
export function boundedText(text: string, maxChars: number): string {
  // Only the head can survive the cut, so a huge input costs no more than a short one.
  const head = text.length > maxChars ? text.slice(0, maxChars) : text;
  const clean = toWellFormed(
    head.replace(
      CONTROL_CHARACTERS,
      (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
  );
  if (clean.length <= maxChars && head.length === text.length) return clean;
  // The cut must not leave half of a surrogate pair or of an escape behind.
  let cut = clean.slice(0, maxChars - 1);
  cut = cut.replace(/\\(u[0-9a-f]{0,3})?$/, '').replace(/[\uD800-\uDBFF]$/, '');
  return `${cut}…`;
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
