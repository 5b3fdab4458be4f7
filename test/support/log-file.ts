import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export type LogLine = Record<string, unknown> & { level: number; msg?: string };

/** Every JSON line the gateway has written to its log file so far. */
export function readLogLines(file: string): LogLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

/**
 * The lines matching `select`, once at least `count` are there: the access line is written when
 * the answer has been sent, so it may land just after the client has read the answer.
 */
export async function waitForLogLines(
  file: string,
  select: (line: LogLine) => boolean,
  count = 1,
): Promise<LogLine[]> {
  for (let waited = 0; ; waited += 20) {
    const lines = readLogLines(file).filter(select);
    if (lines.length >= count || waited >= 2000) return lines;
    await sleep(20);
  }
}
