import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { GraphQLError, Kind } from 'graphql';
import { DateTimeScalar, parseRfc3339 } from './date-time.js';

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A point in time and one way of writing it in RFC 3339, computed without the parser. */
const written = fc
  .record({
    ms: fc.integer({ min: -62167219200000, max: 253402300799999 }),
    offsetMinutes: fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
    fraction: fc.constantFrom('none', 'ms', 'micro'),
    zulu: fc.constantFrom('Z', 'z', 'offset'),
  })
  .map(({ ms, offsetMinutes, fraction, zulu }) => {
    const offset = zulu === 'offset' ? offsetMinutes : 0;
    const instant = fraction === 'none' ? ms - (ms % 1000) : ms;
    const local = new Date(instant + offset * 60_000);
    const year = local.getUTCFullYear();
    const head =
      `${pad(year, 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T` +
      `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
    const frac =
      fraction === 'none'
        ? ''
        : `.${pad(local.getUTCMilliseconds(), 3)}${fraction === 'micro' ? '000' : ''}`;
    const sign = offset < 0 ? '-' : '+';
    const abs = Math.abs(offset);
    const zone = zulu === 'offset' ? `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}` : zulu;
    return { text: `${head}${frac}${zone}`, instant, year };
  })
  .filter(({ year }) => year >= 0 && year <= 9999);

describe('parseRfc3339', () => {
  it('reads every RFC 3339 way of writing an instant as that instant', () => {
    fc.assert(
      fc.property(written, ({ text, instant }) => {
        expect(parseRfc3339(text)?.getTime()).toBe(instant);
      }),
      { numRuns: 3000 },
    );
  });

  it('orders any two date-times as the instants they name, whatever their offsets', () => {
    fc.assert(
      fc.property(written, written, (a, b) => {
        const [x, y] = [parseRfc3339(a.text)!, parseRfc3339(b.text)!];
        expect(Math.sign(x.getTime() - y.getTime())).toBe(Math.sign(a.instant - b.instant));
      }),
    );
  });

  it('rounds a fraction finer than a millisecond up, so both bounds stay exact', () => {
    expect(parseRfc3339('2026-01-31T12:00:00.0001Z')?.toISOString()).toBe(
      '2026-01-31T12:00:00.001Z',
    );
    expect(parseRfc3339('2026-01-31T12:00:00.1230000Z')?.toISOString()).toBe(
      '2026-01-31T12:00:00.123Z',
    );
    expect(parseRfc3339('2026-12-31T23:59:59.9999Z')?.toISOString()).toBe(
      '2027-01-01T00:00:00.000Z',
    );
  });

  it('reads years below 100 as written, not as 19xx', () => {
    expect(parseRfc3339('0001-01-01T00:00:00Z')?.toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(parseRfc3339('0099-12-31T23:00:00-01:00')?.toISOString()).toBe(
      '0100-01-01T00:00:00.000Z',
    );
  });

  it.each([
    ['a six-digit year', '+010000-01-01T00:00:00Z'],
    ['a negative year', '-000001-01-01T00:00:00Z'],
    ['words around a year', 'foo 2001'],
    ['a bare number', '1'],
    ['a date alone', '2026-01-31'],
    ['no offset', '2026-01-31T12:00:00'],
    ['a space for T', '2026-01-31 12:00:00Z'],
    ['no seconds', '2026-01-31T12:00Z'],
    ['an offset without a colon', '2026-01-31T12:00:00+0200'],
    ['a day past the month', '2026-02-29T00:00:00Z'],
    ['day 0', '2026-01-00T00:00:00Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['hour 24', '2026-01-31T24:00:00Z'],
    ['minute 60', '2026-01-31T12:60:00Z'],
    ['a leap second', '2016-12-31T23:59:60Z'],
    ['an offset of 24 hours', '2026-01-31T12:00:00+24:00'],
    ['an offset minute of 60', '2026-01-31T12:00:00+01:60'],
    ['an empty fraction', '2026-01-31T12:00:00.Z'],
    ['non-ASCII digits', '２０２６-01-31T12:00:00Z'],
    ['a trailing newline', '2026-01-31T12:00:00Z\n'],
    ['an empty string', ''],
  ])('refuses %s', (_name, text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });

  it('accepts 29 February only in leap years', () => {
    expect(parseRfc3339('2024-02-29T00:00:00Z')).toBeDefined();
    expect(parseRfc3339('2000-02-29T00:00:00Z')).toBeDefined();
    expect(parseRfc3339('1900-02-29T00:00:00Z')).toBeUndefined();
  });

  it('accepts nothing but the grammar, whatever the string', () => {
    const grammar = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: fc.constantFrom(...'0123456789-+:.TZtz +') }),
          written.map(({ text }) => text),
        ),
        (text) => {
          if (parseRfc3339(text) !== undefined) expect(text).toMatch(grammar);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('DateTimeScalar', () => {
  it('refuses what Date would guess, from variables and from literals', () => {
    for (const value of ['foo 2001', '1', '+010000-01-01T00:00:00Z']) {
      expect(() => DateTimeScalar.parseValue(value)).toThrow(GraphQLError);
      expect(() => DateTimeScalar.parseLiteral({ kind: Kind.STRING, value })).toThrow(/RFC 3339/);
    }
    expect(() => DateTimeScalar.parseValue(1)).toThrow(/RFC 3339/);
    expect(() => DateTimeScalar.parseLiteral({ kind: Kind.INT, value: '1' })).toThrow(/RFC 3339/);
  });

  it('writes Dates and stored ISO text as UTC ISO strings', () => {
    expect(DateTimeScalar.parseValue('2026-01-31T14:00:00+02:00')).toEqual(
      new Date('2026-01-31T12:00:00.000Z'),
    );
    expect(DateTimeScalar.serialize(new Date('2026-01-31T12:00:00Z'))).toBe(
      '2026-01-31T12:00:00.000Z',
    );
    expect(DateTimeScalar.serialize('2026-01-31T12:00:00.000Z')).toBe('2026-01-31T12:00:00.000Z');
    expect(() => DateTimeScalar.serialize('yesterday')).toThrow(GraphQLError);
  });
});
