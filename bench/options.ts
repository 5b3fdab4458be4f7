import { parseArgs } from 'node:util';

/**
 * A number from `--name=value`, else from the environment variable, else the default; anything
 * that is not a non-negative number stops the run with a message naming it.
 */
export function numberOption(
  values: Record<string, string | boolean | undefined>,
  name: string,
  variable: string,
  fallback: number,
): number {
  const raw = values[name] ?? process.env[variable];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw === '' || !(value >= 0)) {
    throw new Error(`--${name} (${variable}) must be a non-negative number, not ${String(raw)}`);
  }
  return value;
}

export function listOption(
  values: Record<string, string | boolean | undefined>,
  name: string,
  variable: string,
): string[] | undefined {
  const raw = values[name] ?? process.env[variable];
  return typeof raw === 'string' ? raw.split(',').map((item) => item.trim()) : undefined;
}

export function parseOptionArgs(names: string[]): Record<string, string | boolean | undefined> {
  return parseArgs({
    options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])),
  }).values;
}

/**
 * One of `choices` from `--name=value`, else from the environment variable, else the default;
 * any other value stops the run with a message naming the option and the choices.
 */
export function choiceOption<Choice extends string>(
  values: Record<string, string | boolean | undefined>,
  name: string,
  variable: string,
  choices: readonly Choice[],
  fallback: Choice,
): Choice {
  const raw = values[name] ?? process.env[variable];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) {
    throw new Error(
      `--${name} (${variable}) must be one of ${choices.join(', ')}, not ${String(raw)}`,
    );
  }
  return raw as Choice;
}

/** The concurrencies from `--concurrency=1,16,64` (BENCH_CONCURRENCY), else 1, 16 and 64. */
export function concurrencyOption(values: Record<string, string | boolean | undefined>): number[] {
  const concurrencies = (
    listOption(values, 'concurrency', 'BENCH_CONCURRENCY') ?? ['1', '16', '64']
  ).map(Number);
  if (!concurrencies.every((c) => Number.isInteger(c) && c > 0)) {
    throw new Error('--concurrency (BENCH_CONCURRENCY) must list positive integers');
  }
  return concurrencies;
}
