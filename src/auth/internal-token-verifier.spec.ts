import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ManualClock } from '../common/testing/manual-clock.js';
import { startSimulator, type RunningSimulator } from '../simulator/simulator.js';
import type { AuthConfig } from './auth.config.js';
import {
  groupsFromClaim,
  InternalTokenVerifier,
  repeatedClaim,
} from './internal-token-verifier.js';

describe('InternalTokenVerifier', () => {
  let simulator: RunningSimulator;
  let clock: ManualClock;
  let verifier: InternalTokenVerifier;

  beforeAll(async () => {
    simulator = await startSimulator({ port: 0 });
    clock = new ManualClock(new Date());
    const config: AuthConfig = {
      jwksUrl: simulator.jwksUrl,
      issuer: simulator.idpIssuer,
      audience: simulator.audience,
      groupsClaim: 'groups',
      auditorGroup: 'auditor',
      algorithms: ['RS256'],
      clockSkewSeconds: 0,
    };
    verifier = new InternalTokenVerifier(config, clock);
  });
  afterAll(() => simulator.close());

  it('reuses a verification for a minute at most', async () => {
    clock.current = new Date();
    const token = await simulator.mintToken({ sub: 'cached', expiresInSeconds: 3600 });
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toBe(first);
    clock.advance(61);
    const again = await verifier.verify(token);
    expect(again).not.toBe(first);
    expect(again.subject).toBe('cached');
  });

  it('splits a string groups claim only at ASCII spaces', async () => {
    const token = await simulator.mintToken({
      sub: 'spaced',
      extraClaims: { groups: 'x\u2003dba ops\u2009dba  auditor\u00a0 dev' },
    });
    const { groups } = await verifier.verify(token);
    expect(groups).toEqual(['x\u2003dba', 'ops\u2009dba', 'auditor\u00a0', 'dev']);
    expect(groups).not.toContain('dba');
  });

  it("never reuses one past the token's expiry", async () => {
    // The gateway clock starts from the real time, which jose checks exp against.
    clock.current = new Date();
    const token = await simulator.mintToken({ sub: 'short', expiresInSeconds: 20 });
    const first = await verifier.verify(token);
    clock.advance(21);
    // Verified again (jose checks exp against the real time, which is still before it).
    expect(await verifier.verify(token)).not.toBe(first);
  });
});

describe('groupsFromClaim', () => {
  /** Strings rich in whitespace and separators of every kind, ASCII space included. */
  const spacey = fc.string({
    unit: fc.oneof(
      fc.constantFrom(' ', '\t', '\n', '\r', '\f', '\v', ',', ';', '\u0085', '\u00a0'),
      fc.constantFrom('\u1680', '\u2000', '\u2003', '\u200b', '\u2028', '\u3000', '\ufeff'),
      fc.constantFrom('d', 'b', 'a', 'x'),
      fc.string({ unit: 'binary', maxLength: 1 }),
    ),
    maxLength: 30,
  });

  it('makes every group a whole space-delimited word of the claim, never part of one', () => {
    fc.assert(
      fc.property(spacey, (claim) => {
        for (const group of groupsFromClaim(claim)) {
          expect(group).not.toContain(' ');
          expect(` ${claim} `).toContain(` ${group} `);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('reads back exactly the groups a space-joined claim was made of, in order', () => {
    const group = fc.string({ unit: 'binary', minLength: 1 }).filter((g) => !g.includes(' '));
    fc.assert(
      fc.property(fc.array(group), fc.integer({ min: 1, max: 3 }), (groups, gap) => {
        expect(groupsFromClaim(groups.join(' '.repeat(gap)))).toEqual(groups);
        expect(groupsFromClaim(groups)).toEqual(groups);
      }),
    );
  });

  it('takes only the strings of an array, and nothing from any other type', () => {
    expect(groupsFromClaim(['dba', 1, null, ['auditor'], 'x y'])).toEqual(['dba', 'x y']);
    for (const claim of [undefined, null, 1, true, { dba: true }]) {
      expect(groupsFromClaim(claim)).toEqual([]);
    }
  });
});

describe('repeatedClaim', () => {
  it('finds a top-level claim written twice', () => {
    expect(repeatedClaim('{"sub":"a","groups":["dba"],"sub":"b"}')).toBe('sub');
    expect(repeatedClaim('{ "aud" : "x", "aud":"y" }')).toBe('aud');
    expect(repeatedClaim(`{"sub":"a","sub"${' '.repeat(20)}\n:"b"}`)).toBe('sub');
  });

  it('tells keys from values and nested objects from the top level', () => {
    expect(repeatedClaim('{"sub":"sub","x":{"sub":1},"y":[{"sub":2}]}')).toBeUndefined();
    expect(repeatedClaim('{"a":"quote \\" and \\\\","b":"\\"a\\":1"}')).toBeUndefined();
  });

  it('finds nothing in any object JSON.stringify writes', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (claims) => {
        expect(repeatedClaim(JSON.stringify(claims))).toBeUndefined();
      }),
    );
  });
});
