import type { ChainVerifier } from './audit-chain.js';
import {
  AUDIT_COLUMN_TABLE,
  type AuditColumn,
  type AuditColumnType,
  type AuditEvent,
} from './audit-record.js';

/**
 * The row mapping every store derives from AUDIT_COLUMN_TABLE: the column lists of its
 * statements, and the conversion between an AuditEvent and the values a driver reads and writes.
 */

const ENTRIES = Object.entries(AUDIT_COLUMN_TABLE) as [keyof AuditEvent, AuditColumn][];

/** A row as a driver hands it over, keyed by column name. */
export type StoredRow = Record<string, unknown>;

/** Every column, in table order. */
export const AUDIT_COLUMN_LIST: readonly AuditColumn[] = ENTRIES.map(([, column]) => column);
export const AUDIT_COLUMN_NAMES: readonly string[] = AUDIT_COLUMN_LIST.map((column) => column.name);

/** The columns that sealing an open attempt writes, in table order. */
export const SEAL_COLUMN_LIST: readonly AuditColumn[] = AUDIT_COLUMN_LIST.filter(
  (column) => column.setBySeal,
);
export const SEAL_COLUMN_NAMES: readonly string[] = SEAL_COLUMN_LIST.map((column) => column.name);

/** How a store keeps booleans: as booleans, or as the integers 0 and 1 (SQLite). */
export type BooleanStorage = 'boolean' | 'integer';

/** The column definition of `column` for a CREATE TABLE, from the store's own type names. */
export function columnDefinition(
  column: AuditColumn,
  sqlType: Readonly<Record<AuditColumnType, string>>,
  booleans: BooleanStorage,
): string {
  const allowed =
    column.oneOf?.map((value) => `'${value}'`) ??
    (column.type === 'boolean' && booleans === 'integer' ? ['0', '1'] : undefined);
  return [
    column.name,
    sqlType[column.type],
    column.nullable ? '' : 'NOT NULL',
    allowed ? `CHECK (${column.name} IN (${allowed.join(', ')}))` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

export function encodeRow(event: AuditEvent, booleans: BooleanStorage): StoredRow {
  return Object.fromEntries(
    ENTRIES.map(([field, column]) => [column.name, encode(event[field], column.type, booleans)]),
  );
}

/** Throws, naming the row, when a stored value cannot be read back (a tampered JSON column). */
export function decodeRow(row: StoredRow): AuditEvent {
  return Object.fromEntries(
    ENTRIES.map(([field, column]) => [field, decode(row, column)]),
  ) as unknown as AuditEvent;
}

/**
 * Hands the next stored row of the chain (in `seq` order) to `verifier`; a row that cannot be
 * read back breaks the chain there. The row's event while the chain holds, else undefined.
 */
export function verifyStoredRow(verifier: ChainVerifier, row: StoredRow): AuditEvent | undefined {
  let event: AuditEvent;
  try {
    event = decodeRow(row);
  } catch (error) {
    verifier.addUnreadable(Number(row.seq), String(row.id), (error as Error).message);
    return undefined;
  }
  return verifier.add(event) ? event : undefined;
}

function encode(value: unknown, type: AuditColumnType, booleans: BooleanStorage): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'json') return JSON.stringify(value);
  if (type === 'boolean' && booleans === 'integer') return value ? 1 : 0;
  return value;
}

function decode(row: StoredRow, column: AuditColumn): unknown {
  const value = row[column.name];
  if (value === null || value === undefined) return null;
  switch (column.type) {
    case 'boolean':
      return value === true || value === 1;
    // PostgreSQL's bigint arrives as a string, so that no driver loses precision silently.
    case 'integer':
      return Number(value);
    case 'json':
      try {
        return JSON.parse(value as string) as unknown;
      } catch {
        throw new Error(
          `audit row seq ${String(row.seq)} (id ${String(row.id)}) has unreadable ${column.name}`,
        );
      }
    case 'text':
      return value;
  }
}
