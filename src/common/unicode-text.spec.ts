import { identityFlaw, pathOfLoneSurrogate, toWellFormed } from './unicode-text.js';

describe('unicode text', () => {
  it('replaces lone surrogates only, keeping pairs', () => {
    expect(toWellFormed('a\ud800b\udc00c\ud83d\ude00')).toBe('a\ufffdb\ufffdc\ud83d\ude00');
  });

  it.each([
    ['alice', undefined],
    ['Zoë 😀 dba-team', undefined],
    ['a\ud800', 'holds a lone UTF-16 surrogate'],
    ['a\u0000', expect.stringContaining('control character')],
    ['a\u009b', expect.stringContaining('control character')],
    ['a\u2029', expect.stringContaining('control character')],
    ['a\u2067', expect.stringContaining('control character')],
  ])('judges %j as an identity', (text, flaw) => {
    expect(identityFlaw(text)).toEqual(flaw);
  });

  it('names the path of the first string or key with a lone surrogate', () => {
    expect(pathOfLoneSurrogate({ a: [1, 'ok', { b: 'x\udc00' }] })).toBe('a[2].b');
    expect(pathOfLoneSurrogate({ ok: 'fine', ['k\ud800']: 1 })).toBe('k\ud800');
    expect(pathOfLoneSurrogate('\ud800')).toBe('(body)');
    expect(pathOfLoneSurrogate({ a: ['\ud83d\ude00'] })).toBeUndefined();
  });

  it('walks a body nested far deeper than the call stack allows', () => {
    let deep: unknown = 'x\ud800';
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    expect(pathOfLoneSurrogate(deep)).toMatch(/^(\[0\]){100000}$/);
  });
});
