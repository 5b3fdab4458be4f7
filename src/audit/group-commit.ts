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

/**
 * Group commit with up to `maxInFlight` commits at a time: the writes pushed while every slot is
 * busy wait together and go in the next free one, all at once. `commit` settles each write of
 * its batch itself and never rejects.
 */
export class GroupCommitQueue<Write extends GroupedWrite> {
  private waiting: Write[] = [];
  private inFlight = 0;
  private scheduled = false;
  private drainedWaiters: (() => void)[] = [];

  constructor(
    private readonly maxInFlight: number,
    private readonly commit: (batch: Write[]) => Promise<void>,
  ) {}

  push(write: Write): void {
    this.waiting.push(write);
    this.schedule();
  }

  /** Resolves once every write pushed so far has been settled. */
  drained(): Promise<void> {
    if (this.inFlight === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainedWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.waiting.length === 0) return;
    this.scheduled = true;
    // The writes asked for in the same turn of the event loop share the commit.
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  private start(): void {
    if (this.inFlight >= this.maxInFlight || this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    this.inFlight += 1;
    void this.commit(batch).finally(() => {
      this.inFlight -= 1;
      if (this.inFlight === 0 && this.waiting.length === 0) {
        for (const resolve of this.drainedWaiters.splice(0)) resolve();
      }
      this.schedule();
    });
  }
}
