/** A write waiting for a group commit: its caller's promise, settled once the commit is over. */
export interface GroupedWrite {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** What one write of a committed group came to: the value it returned, or its refusal. */
export interface WriteOutcome {
  value?: unknown;
  error?: unknown;
}

/**
 * Ends a group commit that made it to disk: counts it (the store's `onCommit`), then resolves
 * or rejects each write by its own outcome (`outcomes[i]` is `writes[i]`'s).
 */
export function settleGroupCommit(
  onCommit: (writes: number) => void,
  writes: readonly GroupedWrite[],
  outcomes: readonly WriteOutcome[],
): void {
  onCommit(writes.length);
  writes.forEach((write, index) => {
    const { value, error } = outcomes[index];
    if (error === undefined) write.resolve(value);
    else write.reject(error);
  });
}
