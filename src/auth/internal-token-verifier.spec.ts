import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { repeatedClaim } from './internal-token-verifier.js';

describe('repeatedClaim', () => {
  it('finds a top-level claim written twice', () => {
    expect(repeatedClaim('{"sub":"a","groups":["dba"],"sub":"b"}')).toBe('sub');
    expect(repeatedClaim('{ "aud" : "x", "aud":"y" }')).toBe('aud');
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
