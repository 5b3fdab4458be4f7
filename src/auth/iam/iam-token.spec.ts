import { describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { IamToken } from './iam-token.js';

const SECRET = 'MIIsecret-token-value';
const MINUTE = 60_000;

const tokenLiving = (issuedAtMs: number, lifetimeMs: number) =>
  new IamToken(
    SECRET,
    '1b2c3d4e5f60718293a4b5c6d7e8f90a',
    'ap-southeast-1_finance',
    new Date(issuedAtMs),
    new Date(issuedAtMs + lifetimeMs),
  );

describe('IamToken', () => {
  const token = tokenLiving(Date.UTC(2030, 0, 1), 24 * 60 * MINUTE);

  it('names the region before the sub-project suffix', () => {
    expect(token.region).toBe('ap-southeast-1');
    expect(tokenLiving(0, MINUTE).region).toBe('ap-southeast-1');
    expect(new IamToken(SECRET, 'p', 'cn-north-4', new Date(0), new Date(MINUTE)).region).toBe(
      'cn-north-4',
    );
  });

  it('never prints its value', () => {
    expect(token.value()).toBe(SECRET);
    for (const printed of [JSON.stringify(token), String(token), `${token}`, inspect(token)]) {
      expect(printed).not.toContain(SECRET);
    }
    expect(JSON.parse(JSON.stringify(token))).toEqual({
      projectId: '1b2c3d4e5f60718293a4b5c6d7e8f90a',
      projectName: 'ap-southeast-1_finance',
      region: 'ap-southeast-1',
      issuedAt: '2030-01-01T00:00:00.000Z',
      expiresAt: '2030-01-02T00:00:00.000Z',
    });
  });

  it('is due for refresh once less than 10% of a long lifetime is left', () => {
    const issued = token.issuedAt.getTime();
    expect(token.isDueForRefreshAt(issued + 21 * 60 * MINUTE)).toBe(false);
    expect(token.isDueForRefreshAt(issued + 22 * 60 * MINUTE)).toBe(true);
  });

  it('is due for refresh once less than 5 minutes of a short lifetime are left', () => {
    const short = tokenLiving(0, 20 * MINUTE);
    expect(short.isDueForRefreshAt(14 * MINUTE)).toBe(false);
    expect(short.isDueForRefreshAt(16 * MINUTE)).toBe(true);
  });

  it('stops being usable within a minute of expiry', () => {
    const short = tokenLiving(0, 20 * MINUTE);
    expect(short.isUsableAt(18 * MINUTE)).toBe(true);
    expect(short.isUsableAt(19.5 * MINUTE)).toBe(false);
  });

  it('compares by value', () => {
    expect(token.sameAs(tokenLiving(0, MINUTE))).toBe(true);
    expect(token.sameAs(new IamToken('other', 'p', 'x', new Date(0), new Date(1)))).toBe(false);
  });
});
