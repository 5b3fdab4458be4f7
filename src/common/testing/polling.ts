import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 50;

/**
 * Polls `probe` until it answers something other than undefined. Bounded, with a message that
 * names what never came: what a slow, shared machine needs instead of a fixed wait.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  limitMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${limitMs} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
}
