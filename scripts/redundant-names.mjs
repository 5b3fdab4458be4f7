// esbuild's `keepNames` wraps every named function and class in `__name(fn, "name")`, which
// redefines the function's `name`. The wrap matters only where the bundle renamed a symbol (two
// modules' `Counter` become `Counter` and `Counter3`). Everywhere else it sets the name the
// function already has, but it runs each time the function is made: a closure made per call costs
// a property definition per call. On the gateway's request path that was some hundred calls per
// request (docs/PERFORMANCE.md, run 19). This takes out the wraps that change nothing.
import { parse } from 'acorn';

/** A function or class expression that takes its name from where it is written. */
const isAnonymous = (node) =>
  node.type === 'ArrowFunctionExpression' ||
  ((node.type === 'FunctionExpression' || node.type === 'ClassExpression') && node.id === null);

/** The name an anonymous function written as `parent`'s value gets from the language itself. */
function nameGivenBy(parent, node) {
  switch (parent.type) {
    case 'VariableDeclarator':
      return parent.init === node && parent.id.type === 'Identifier' ? parent.id.name : undefined;
    case 'AssignmentExpression':
      return parent.operator === '=' && parent.right === node && parent.left.type === 'Identifier'
        ? parent.left.name
        : undefined;
    case 'AssignmentPattern':
      return parent.right === node && parent.left.type === 'Identifier'
        ? parent.left.name
        : undefined;
    case 'Property':
    case 'PropertyDefinition': {
      if (
        parent.computed ||
        parent.value !== node ||
        parent.kind === 'get' ||
        parent.kind === 'set'
      )
        return undefined;
      const key = parent.key.type === 'Identifier' ? parent.key.name : parent.key.value;
      // `__proto__: value` in an object literal sets the prototype: it names nothing.
      return typeof key === 'string' && key !== '__proto__' ? key : undefined;
    }
    default:
      return undefined;
  }
}

const functionsDeclaredIn = new WeakMap();

/** The names of the functions declared directly in a statement list. */
function declaredFunctions(statements) {
  let names = functionsDeclaredIn.get(statements);
  if (names === undefined) {
    names = new Set(
      statements
        .filter((statement) => statement.type === 'FunctionDeclaration' && statement.id)
        .map((statement) => statement.id.name),
    );
    functionsDeclaredIn.set(statements, names);
  }
  return names;
}

const blank = (text) => text.replace(/[^\n\r\u2028\u2029]/g, ' ');

/**
 * The edits that rewrite a `__name(fn, "name")` call that changes nothing, or undefined for one
 * that does. Each edit keeps the length of the text it replaces, and its line breaks, so that
 * every other position in the file, and the source map's columns with them, stay where they were.
 * The edits of one call never overlap another call's: a call nested in `fn` is left to its own.
 */
function editsOf(code, call, parent, statementList) {
  const [target, name] = call.arguments;
  if (call.arguments.length !== 2 || name.type !== 'Literal' || typeof name.value !== 'string') {
    return undefined;
  }
  const replace = (from, to, text) => ({
    from,
    to,
    text: text + blank(code.slice(from + text.length, to)),
  });
  // `function f() {}` then `__name(f, "f");`: the call becomes `0`, an expression statement too.
  if (
    parent.type === 'ExpressionStatement' &&
    target.type === 'Identifier' &&
    target.name === name.value &&
    statementList !== undefined &&
    declaredFunctions(statementList).has(name.value)
  ) {
    return [replace(call.start, call.end, '0')];
  }
  const named =
    (isAnonymous(target) && nameGivenBy(parent, call) === name.value) ||
    ((target.type === 'FunctionExpression' || target.type === 'ClassExpression') &&
      target.id?.name === name.value);
  if (!named) return undefined;
  // `__name(() => {}, "f")` becomes `(() => {})`: a function in parentheses is named as a bare one.
  return [
    {
      from: call.start,
      to: target.start,
      text: blank(code.slice(call.start, target.start - 1)) + '(',
    },
    { from: target.end, to: call.end, text: blank(code.slice(target.end, call.end - 1)) + ')' },
  ];
}

/** `code` without the `__name` calls that set a name the function or class already has. */
export function withoutRedundantNames(code) {
  const program = parse(code, { ecmaVersion: 'latest', sourceType: 'module' });
  const edits = [];
  let removed = 0;
  let kept = 0;
  // Iterative, parent-aware walk: the bundle nests far deeper than the call stack allows.
  const pending = [[program, undefined, undefined]];
  while (pending.length > 0) {
    const [node, parent, statementList] = pending.pop();
    if (
      node.type === 'CallExpression' &&
      node.callee.type === 'Identifier' &&
      node.callee.name === '__name'
    ) {
      const callEdits = editsOf(code, node, parent, statementList);
      if (callEdits === undefined) {
        kept += 1;
      } else {
        edits.push(...callEdits);
        removed += 1;
      }
    }
    for (const value of Object.values(node)) {
      const isList = Array.isArray(value);
      for (const child of isList ? value : [value]) {
        if (child === null || typeof child !== 'object' || typeof child.type !== 'string') continue;
        // A statement is looked at with the list that holds it (a program's, a block's, a
        // case's), and an expression statement's call with the same list.
        const list = isList
          ? value
          : node.type === 'ExpressionStatement'
            ? statementList
            : undefined;
        pending.push([child, node, list]);
      }
    }
  }
  edits.sort((a, b) => a.from - b.from);
  let out = '';
  let at = 0;
  for (const { from, to, text } of edits) {
    out += code.slice(at, from) + text;
    at = to;
  }
  return { code: out + code.slice(at), removed, kept };
}
