import { parseDurationSeconds } from './duration.js';

describe('parseDurationSeconds', () => {
  it.each([
    ['0s', 0],
    ['90s', 90],
    ['15m', 900],
    ['24h', 86_400],
    ['72h', 259_200],
    ['3d', 259_200],
    ['30d', 2_592_000],
    ['007m', 420],
    ['999999999d', 999_999_999 * 86_400],
  ])('reads %s as %i seconds', (text, seconds) => {
    expect(parseDurationSeconds(text)).toBe(seconds);
  });

  it.each([
    ['a number', 3600],
    ['no unit', '72'],
    ['a unit alone', 'h'],
    ['two units', '1h30m'],
    ['an unknown unit', '2w'],
    ['an upper-case unit', '24H'],
    ['a fraction', '1.5h'],
    ['a sign', '-5m'],
    ['spaces', ' 5m'],
    ['a trailing newline', '5m\n'],
    ['ten digits', '1000000000s'],
    ['an empty string', ''],
    ['null', null],
    ['undefined', undefined],
  ])('refuses %s', (_name, text) => {
    expect(parseDurationSeconds(text)).toBeUndefined();
  });
});
