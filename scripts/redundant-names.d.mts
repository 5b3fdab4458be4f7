export function withoutRedundantNames(code: string): {
  code: string;
  /** The `__name` calls taken out. */
  removed: number;
  /** The `__name` calls left: each renames what it wraps. */
  kept: number;
};
