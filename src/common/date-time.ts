import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsDate } from 'class-validator';
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/** The rule a time filter is held to, as callers read it in an error. */
export const DATE_TIME_RULE =
  'must be an RFC 3339 date-time with Z or an offset, such as 2026-01-31T12:00:00Z or 2026-01-31T14:00:00.5+02:00';

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * The instant an RFC 3339 date-time names, or undefined for anything else. Only the grammar of
 * RFC 3339 §5.6 is accepted (four-digit year, `T`, seconds, `Z` or `±hh:mm`), with each field in
 * its range and the day in its month: never what `Date` would guess from "foo 2001" or "1".
 * Leap seconds (`:60`) are refused: no stored time has one. Stored times are kept to the
 * millisecond, so a finer fraction is rounded up, which keeps an inclusive lower bound and an
 * exclusive upper bound both exact against them.
 */
export function parseRfc3339(text: string): Date | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
  const [fraction = '', zulu, sign, offsetHours, offsetMinutes] = match.slice(7);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const offset = zulu ? 0 : Number(offsetHours) * 60 + Number(offsetMinutes);
  if (!zulu && (Number(offsetHours) > 23 || Number(offsetMinutes) > 59)) return undefined;
  const millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
  const finer = /[1-9]/.test(fraction.slice(3)) ? 1 : 0;
  // Date.UTC reads years 0-99 as 1900-1999; 400 Gregorian years later the calendar repeats.
  const utc =
    Date.UTC(year + 400, month - 1, day, hour, minute, second, millis + finer) - GREGORIAN_CYCLE_MS;
  return new Date(utc - (sign === '-' ? -offset : offset) * 60_000);
}

const GREGORIAN_CYCLE_MS = 146_097 * 86_400_000;

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * A REST query field holding an RFC 3339 date-time: turned into a Date, or refused naming the
 * field and the rule (an unparsable value is left as it came, which `IsDate` then refuses).
 */
export function IsRfc3339DateTime(): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' ? (parseRfc3339(value) ?? value) : value,
    ),
    IsDate({ message: DATE_TIME_RULE }),
  );
}

/**
 * The schema's `DateTime`, in place of Nest's built-in one, which reads input with `new Date()`
 * and so takes "foo 2001", "1" or a six-digit year. Same name and description; it writes a Date,
 * or a time the audit store kept as text, as an ISO string in UTC.
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description:
    'A date-time string at UTC, such as 2019-12-03T09:54:33Z, compliant with the date-time format.',
  serialize(value) {
    const date = typeof value === 'string' ? parseRfc3339(value) : value;
    if (date instanceof Date && !Number.isNaN(date.getTime())) return date.toISOString();
    throw new GraphQLError('DateTime cannot represent a value that is not a date-time');
  },
  parseValue(value) {
    return dateTimeInput(value);
  },
  parseLiteral(ast) {
    return dateTimeInput(ast.kind === Kind.STRING ? ast.value : undefined);
  },
});

function dateTimeInput(value: unknown): Date {
  const date = typeof value === 'string' ? parseRfc3339(value) : undefined;
  if (!date) throw new GraphQLError(`DateTime ${DATE_TIME_RULE}`);
  return date;
}
