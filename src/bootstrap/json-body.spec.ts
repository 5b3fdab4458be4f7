import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { nestsDeeperThan } from './json-body.js';

/** How deep objects and arrays nest in a parsed value, counted the obvious (recursive) way. */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}

describe('nestsDeeperThan', () => {
  it('agrees with the depth of any JSON value, strings full of brackets and quotes included', () => {
    const tricky = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a') });
    fc.assert(
      fc.property(
        fc.letrec((tie) => ({
          value: fc.oneof(
            { depthSize: 'small', withCrossShrink: true },
            fc.jsonValue({ maxDepth: 2 }),
            tricky,
            fc.array(tie('value'), { maxLength: 3 }),
            fc.dictionary(tricky, tie('value'), { maxKeys: 3 }),
          ),
        })).value,
        fc.integer({ min: 0, max: 12 }),
        (value, limit) => {
          expect(nestsDeeperThan(JSON.stringify(value), limit)).toBe(depthOf(value) > limit);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
