import type { ComplianceEntry } from './compliance.service.js';

const COLUMNS = [
  'instance_id',
  'compliant',
  'retention_days',
  'required_days',
  'rule_id',
  'lock_error',
] as const;

/**
 * One field of RFC 4180: quoted when it holds a comma, a quote or a line break, quotes doubled.
 * A field a spreadsheet would run as a formula (=, +, -, @, tab, carriage return first) gets a
 * leading apostrophe, so a rule id from the policy file can never become one.
 */
export function csvField(value: string | number | boolean | null): string {
  let text = value === null ? '' : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A header row, then one row per instance, CRLF line ends. */
export function complianceCsv(entries: readonly ComplianceEntry[]): string {
  const rows = entries.map((entry) =>
    [
      entry.instanceId,
      entry.compliant,
      entry.retentionDays,
      entry.requiredDays,
      entry.ruleId,
      entry.lockError,
    ]
      .map(csvField)
      .join(','),
  );
  return [COLUMNS.join(','), ...rows].map((row) => `${row}\r\n`).join('');
}
