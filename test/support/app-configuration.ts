import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What the application itself says about how it is run, for the suites that check deployment
 * files against it: the variables it reads, the ones the README documents, its health routes.
 */

/** Every non-test source file, as one text. */
function sources(dir = 'src'): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((entry) => {
      const path = join(dir, entry.name);
      // `testing/` folders hold test helpers, left out of the build: not the gateway's variables.
      if (entry.isDirectory()) return entry.name === 'testing' ? '' : sources(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')
        ? readFileSync(path, 'utf8')
        : '';
    })
    .join('\n');
}

/**
 * The environment variables the code reads: the properties of the validated `*Env` classes
 * (`PORT?: number`) and direct reads (`env.TAURUSDB_ENDPOINT`).
 */
export const variablesRead = new Set(
  [...sources().matchAll(/\b([A-Z][A-Z0-9_]*)[?!]:|\benv\.([A-Z][A-Z0-9_]+)/g)].map(
    (match) => match[1] ?? match[2],
  ),
);

/** The variables named in the first column of the README's "Configuration reference". */
export function documentedVariables(): Set<string> {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('## Configuration reference\n');
  if (start === -1) throw new Error('the README has no "Configuration reference"');
  const reference = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return new Set(
    reference
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...line.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)])
      .map((match) => match[1]),
  );
}

/** The paths the health controller serves (`@Get('health/live')` → `/health/live`). */
export function healthRoutes(): string[] {
  const controller = readFileSync('src/health/health.controller.ts', 'utf8');
  return [...controller.matchAll(/@Get\('([^']+)'\)/g)].map((match) => `/${match[1]}`);
}

/** `5s`, `45s`, `2m`, `300ms` in milliseconds. */
export function durationMs(value: string): number {
  const [, amount, unit] = /^(\d+)(ms|s|m)$/.exec(value) ?? [];
  if (amount === undefined) throw new Error(`unreadable duration ${value}`);
  return Number(amount) * { ms: 1, s: 1000, m: 60_000 }[unit as 'ms' | 's' | 'm'];
}
