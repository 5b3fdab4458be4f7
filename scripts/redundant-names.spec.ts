import { runInNewContext } from 'node:vm';
import { withoutRedundantNames } from './redundant-names.mjs';

/** esbuild's helper, as the bundle defines it. */
const HELPER =
  'var __name = (target, value) => Object.defineProperty(target, "name", { value, configurable: true });\n';

/** A bundle's text: the helper, then `lines`. */
const bundled = (lines: string[]) => HELPER + lines.join('\n');

/** The names of what `code` leaves in `names`, as it runs. */
function namesAfterRunning(code: string): unknown {
  const context: { names?: unknown } = {};
  runInNewContext(code, context);
  return JSON.parse(JSON.stringify(context.names));
}

/**
 * The bundle of `lines` rewritten, with as many wraps taken out and kept as `counts` says, and
 * the names it leaves as it runs, which must be the ones the bundle left before.
 */
function rewritten(lines: string[], counts: { removed: number; kept: number }) {
  const code = bundled(lines);
  const result = withoutRedundantNames(code);
  expect(result).toMatchObject(counts);
  // Every position stays where it was, so the bundle's source map still holds.
  expect(result.code).toHaveLength(code.length);
  expect([...result.code.matchAll(/\n/g)].map((match) => match.index)).toEqual(
    [...code.matchAll(/\n/g)].map((match) => match.index),
  );
  const names = namesAfterRunning(result.code);
  expect(names).toEqual(namesAfterRunning(code));
  return { code, rewritten: result.code, names };
}

describe('withoutRedundantNames', () => {
  it('takes out the wraps that give a function the name it already has', () => {
    const { rewritten: code, names } = rewritten(
      [
        'function declared() {}',
        '__name(declared, "declared");',
        'const arrow = __name(() => 1, "arrow");',
        'let assigned; assigned = __name(function () {}, "assigned");',
        'const object = { property: __name(() => 2, "property"), "quoted": __name(() => 3, "quoted") };',
        'class Fields { field = __name(() => 4, "field"); static shared = __name(() => 5, "shared"); }',
        'const own = __name(function own() {}, "own");',
        'function withDefault(given = __name(() => 6, "given")) { return given; }',
        '__name(withDefault, "withDefault");',
        'const Expression = __name(class {}, "Expression");',
        'globalThis.names = [declared.name, arrow.name, assigned.name, object.property.name,',
        '  object.quoted.name, new Fields().field.name, Fields.shared.name, own.name,',
        '  withDefault().name, withDefault.name, Expression.name];',
      ],
      { removed: 10, kept: 1 },
    );
    expect(code).not.toContain('__name(() => 1');
    expect(names).toEqual([
      'declared',
      'arrow',
      'assigned',
      'property',
      'quoted',
      'field',
      'shared',
      'own',
      'given',
      'withDefault',
      'Expression',
    ]);
  });

  it('keeps the wraps that rename: a symbol the bundle renamed, or a name nothing gives', () => {
    const {
      code,
      rewritten: after,
      names,
    } = rewritten(
      [
        'function Counter3() {}',
        '__name(Counter3, "Counter");',
        'const Gauge2 = __name(() => 1, "Gauge");',
        'const renamedOwn = __name(function Histogram2() {}, "Histogram");',
        'class Summary2 { static { __name(this, "Summary"); } }',
        'const computed = { ["key"]: __name(() => 2, "key") };',
        'const member = {}; member.handler = __name(() => 3, "handler");',
        'const prototypeKey = { __proto__: __name(function () {}, "__proto__") };',
        'const elsewhere = Counter3; let alias = elsewhere;',
        '__name(alias, "alias");',
        'const passed = [__name(() => 4, "passed")];',
        'globalThis.names = [Counter3.name, Gauge2.name, renamedOwn.name, Summary2.name,',
        '  computed.key.name, member.handler.name, passed[0].name];',
      ],
      { removed: 0, kept: 9 },
    );
    expect(after).toBe(code);
    // `alias` is `Counter3`: the last wrap to run names it.
    expect(names).toEqual(['alias', 'Gauge', 'Histogram', 'Summary', 'key', 'handler', 'passed']);
  });

  it('takes out a wrap inside a function it takes out too, and keeps what each one does', () => {
    const { names } = rewritten(
      [
        'const outer = __name(() => {',
        '  const inner = __name(() => "inner ran", "inner");',
        '  function nested() { return inner(); }',
        '  __name(nested, "nested");',
        '  return [inner.name, nested.name, nested()];',
        '}, "outer");',
        'globalThis.names = [outer.name, ...outer()];',
      ],
      { removed: 3, kept: 0 },
    );
    expect(names).toEqual(['outer', 'inner', 'nested', 'inner ran']);
  });

  it('keeps a wrap whose call, name or binding it cannot vouch for', () => {
    const {
      code,
      rewritten: after,
      names,
    } = rewritten(
      [
        'let z = 1',
        '__name(function own() {}, "own")',
        'const tail = 2',
        '__name(function chained() {}, "chained").call(null)',
        'early = function other() {}; function early() {}',
        '__name(early, "early");',
        'let inParentheses; (inParentheses) = __name(() => 1, "inParentheses");',
        'const Named = __name(class { static name = "own static" }, "Named");',
        'function notAfter() {} const between = 1; __name(notAfter, "notAfter");',
        'globalThis.names = [early.name, inParentheses.name, Named.name, notAfter.name];',
      ],
      { removed: 0, kept: 6 },
    );
    expect(after).toBe(code);
    expect(names).toEqual(['early', 'inParentheses', 'Named', 'notAfter']);
  });

  it('changes nothing where `__name` is also bound to something else', () => {
    const { code, rewritten: after } = rewritten(
      [
        'const kept = __name(() => 1, "kept");',
        'function local(__name) { return __name(() => 2, "local"); }',
        'globalThis.names = [kept.name, local((target) => target).name];',
      ],
      { removed: 0, kept: 2 },
    );
    expect(after).toBe(code);
  });

  it('keeps the line breaks inside a call it takes out', () => {
    const { names } = rewritten(
      [
        'const spread = __name(',
        '  () => 1, // why',
        '  "spread");',
        'globalThis.names = [spread.name];',
      ],
      { removed: 1, kept: 0 },
    );
    expect(names).toEqual(['spread']);
  });

  it("looks for writes to a declaration's name in its own scope only", () => {
    const { rewritten: code } = rewritten(
      [
        'function outer() { function step() {} __name(step, "step"); return step; }',
        'function elsewhere() { let step; step = 1; return step; }',
        'function reassigning() {',
        '  function settle() {} __name(settle, "settle");',
        '  settle = function later() {};',
        '  return settle;',
        '}',
        'function inCases(kind) {',
        '  switch (kind) {',
        '    case 1: function branch() {} __name(branch, "branch"); return branch;',
        '    default: branch = null;',
        '  }',
        '}',
        'globalThis.names = [outer().name, reassigning().name, inCases(1).name, elsewhere()];',
      ],
      { removed: 1, kept: 2 },
    );
    expect(code).toContain('__name(settle, "settle")');
    expect(code).toContain('__name(branch, "branch")');
  });
});
