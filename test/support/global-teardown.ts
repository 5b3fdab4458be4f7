import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Shapes of every secret the suites handle. */
export const SECRET_PATTERNS: Record<string, RegExp> = {
  jwt: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/,
  'IAM token': /MII[A-Za-z0-9_+/=-]{100,}/,
  'service-account password': /sim-password/,
};

/**
 * Log hygiene over the whole run: every line any gateway wrote during the suites is scanned for
 * anything shaped like a JWT, an IAM token or the simulator's service-account password.
 */
export default function globalTeardown(): void {
  const LOG_DIR = process.env.VLG_TEST_LOG_DIR ?? '';
  const files = readdirSync(LOG_DIR).filter((f) => f.endsWith('.log'));
  let lines = 0;
  const leaks: string[] = [];
  for (const file of files) {
    const text = readFileSync(join(LOG_DIR, file), 'utf8');
    lines += text.split('\n').length - 1;
    for (const [name, pattern] of Object.entries(SECRET_PATTERNS)) {
      if (pattern.test(text)) leaks.push(`${file}: ${name}`);
    }
  }
  if (files.length === 0) return; // no gateway ran in this selection of suites
  if (lines === 0)
    throw new Error(`log hygiene: gateways ran but wrote no log lines to ${LOG_DIR}`);
  if (leaks.length > 0) {
    // Name the file and the kind of secret only: printing the match would leak it again.
    throw new Error(`log hygiene: secrets found in logs:\n  ${leaks.join('\n  ')}`);
  }
  process.stdout.write(`\nlog hygiene: ${lines} log lines in ${files.length} files, no secrets\n`);
}
