/**
 * Text checks for what the gateway stores and prints. A lone UTF-16 surrogate (half of a pair;
 * with the `u` flag a regular expression sees it as a code point of its own, category Cs) has no
 * UTF-8 form and no RFC 8785 canonical form: a store replaces it, so two different strings can
 * read back the same, and the audit hash cannot be computed at all.
 */
const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATES = /\p{Cs}/gu;

/**
 * Characters that change how printed text reads: C0 and C1 controls (NUL, ESC, CR, LF, NEL...),
 * DEL, the line and paragraph separators, and the bidirectional marks, embeddings, overrides and
 * isolates.
 */
const CONTROL = /[\p{Cc}\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;

export const LONE_SURROGATE_RULE =
  'must be well-formed Unicode text (it holds a lone UTF-16 surrogate)';

export const hasLoneSurrogate = (text: string): boolean => LONE_SURROGATE.test(text);

/** Lone surrogates replaced by U+FFFD, as `String.prototype.toWellFormed` (ES2024) does. */
export const toWellFormed = (text: string): string =>
  hasLoneSurrogate(text) ? text.replace(LONE_SURROGATES, '\ufffd') : text;

/** Why `text` cannot name someone (issuer, subject, group), or undefined when it can. */
export function identityFlaw(text: string): string | undefined {
  if (hasLoneSurrogate(text)) return 'holds a lone UTF-16 surrogate';
  if (CONTROL.test(text)) {
    return 'holds a control character (C0/C1, DEL, line separator or bidirectional control)';
  }
  return undefined;
}

interface JsonNode {
  value: unknown;
  key: string | number | null;
  parent: JsonNode | null;
}

/**
 * The path (`a.b[2].c`) of the first string or key in a parsed JSON value that holds a lone
 * surrogate, or undefined. Walked with a stack of its own and paths built only for the finding,
 * so a deeply nested body costs neither the call stack nor quadratic memory.
 */
export function pathOfLoneSurrogate(root: unknown): string | undefined {
  const pending: JsonNode[] = [{ value: root, key: null, parent: null }];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    const { value } = node;
    if (typeof value === 'string') {
      if (hasLoneSurrogate(value)) return pathOf(node);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i -= 1) {
        pending.push({ value: value[i], key: i, parent: node });
      }
    } else if (typeof value === 'object' && value !== null) {
      const entries = Object.entries(value);
      const badKey = entries.find(([key]) => hasLoneSurrogate(key));
      if (badKey) return pathOf({ value: badKey[1], key: badKey[0], parent: node });
      for (let i = entries.length - 1; i >= 0; i -= 1) {
        pending.push({ value: entries[i][1], key: entries[i][0], parent: node });
      }
    }
  }
  return undefined;
}

function pathOf(node: JsonNode): string {
  let path = '';
  for (let at: JsonNode | null = node; at !== null && at.key !== null; at = at.parent) {
    path = typeof at.key === 'number' ? `[${at.key}]${path}` : `.${at.key}${path}`;
  }
  return path.startsWith('.') ? path.slice(1) : path || '(body)';
}
