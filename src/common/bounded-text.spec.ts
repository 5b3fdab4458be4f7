import fc from 'fast-check';
import { boundedText } from './bounded-text.js';

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('boundedText', () => {
  it('keeps short clean text as it is', () => {
    expect(boundedText('Invalid parameter.', 512)).toBe('Invalid parameter.');
  });

  it('writes control characters as escapes, so no forged line or terminal sequence survives', () => {
    expect(boundedText('a\nb\r\u001b[31mc\u0000\u0085\u2028', 512)).toBe(
      'a\\u000ab\\u000d\\u001b[31mc\\u0000\\u0085\\u2028',
    );
  });

  it('replaces a lone surrogate and keeps a pair', () => {
    expect(boundedText('x\uD800y\uDC00z😀', 512)).toBe('x\uFFFDy\uFFFDz😀');
  });

  it('cuts a 900 KB text to the limit, marking the cut', () => {
    const text = boundedText('x'.repeat(900 * 1024), 512);
    expect(text).toHaveLength(512);
    expect(text.endsWith('…')).toBe(true);
  });

  it('never exceeds the limit, never holds a control character or a lone surrogate', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 2000 }),
        fc.integer({ min: 8, max: 600 }),
        (raw, max) => {
          const text = boundedText(raw, max);
          expect(text.length).toBeLessThanOrEqual(max);
          expect(text).not.toMatch(CONTROL);
          expect(text).not.toMatch(LONE_SURROGATE);
          if (raw.length <= max && !CONTROL.test(raw) && !LONE_SURROGATE.test(raw)) {
            expect(text).toBe(raw);
          }
        },
      ),
    );
  });
});
