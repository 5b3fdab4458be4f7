// esbuild's `keepNames` wraps every named function and class in `__name(fn, "name")`, which
// redefines the function's `name`. The wrap matters only where the bundle renamed a symbol (two
// modules' `Counter` become `Counter` and `Counter3`). Everywhere else it sets the name the
// function already has, but it runs each time the function is made: a closure made per call costs
// a property definition per call, 3.6 % of a REST PUT's profile (docs/PERFORMANCE.md, run 19).
// This takes out the wraps that change nothing.
//
// It reads esbuild's output, an ES module, and takes out only what it can tell is a no-op there;
// anything it cannot tell is left as it is.
import { parse } from 'acorn';

/**
 * A function expression that takes its name from where it is written. Classes are left alone:
 * one may define a static `name` of its own, or read its name while it is being defined.
 */
const isAnonymousFunction = (node) =>
  node.type === 'ArrowFunctionExpression' || (node.type === 'FunctionExpression' && !node.id);

/** The name an anonymous function written as `parent`'s value gets from the language itself. */
function nameGivenBy(parent, node) {
  switch (parent.type) {
    case 'VariableDeclarator':
      return parent.init === node && parent.id.type === 'Identifier' ? parent.id.name : undefined;
    // With `preserveParens`, a parenthesised left side is not an Identifier: it names nothing.
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

/** The names a binding or assignment target writes (`a`, `[a, { b = 1 }]`, `...c`). */
function namesWrittenBy(target, names) {
  if (!target) return;
  switch (target.type) {
    case 'Identifier':
      names.add(target.name);
      break;
    case 'ParenthesizedExpression':
      namesWrittenBy(target.expression, names);
      break;
    case 'AssignmentPattern':
      namesWrittenBy(target.left, names);
      break;
    case 'RestElement':
      namesWrittenBy(target.argument, names);
      break;
    case 'ArrayPattern':
      for (const element of target.elements) namesWrittenBy(element, names);
      break;
    case 'ObjectPattern':
      for (const property of target.properties) {
        namesWrittenBy(property.type === 'RestElement' ? property : property.value, names);
      }
      break;
    default:
  }
}

/** What a node writes to: a declaration's wrap goes only if nothing writes to its name. */
function targetsOf(node) {
  switch (node.type) {
    case 'AssignmentExpression':
      return [node.left];
    case 'UpdateExpression':
      return [node.argument];
    case 'VariableDeclarator':
      return [node.id];
    case 'ForInStatement':
    case 'ForOfStatement':
      return node.left.type === 'VariableDeclaration' ? [] : [node.left];
    default:
      return [];
  }
}

const writtenWithinNode = new WeakMap();

/**
 * The names written anywhere inside `scope`, nested functions included. A function declared in a
 * block or a function body can be written to only from inside it.
 */
function writtenWithin(scope) {
  let names = writtenWithinNode.get(scope);
  if (names !== undefined) return names;
  names = new Set();
  const pending = [scope];
  while (pending.length > 0) {
    const node = pending.pop();
    for (const target of targetsOf(node)) namesWrittenBy(target, names);
    for (const value of Object.values(node)) {
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child?.type) pending.push(child);
      }
    }
  }
  writtenWithinNode.set(scope, names);
  return names;
}

/**
 * The characters after which a `(` opens an expression of its own, rather than calling or
 * indexing what came before (an identifier, a literal, `)`, `]`, a regular expression's `/`).
 */
const OPENS_AN_EXPRESSION = new Set('=:,([{;?!&|<>*%^~');

function previousCharacter(code, at) {
  let before = at - 1;
  while (before >= 0 && /\s/.test(code[before])) before -= 1;
  return code[before];
}

/** `x.__name` or `{ __name: x }`: a property's name, not the helper. */
const namesAProperty = (node, parent) =>
  ((parent.type === 'MemberExpression' && parent.property === node) ||
    ((parent.type === 'Property' || parent.type === 'PropertyDefinition') &&
      parent.key === node)) &&
  !parent.computed;

const blank = (text) => text.replace(/[^\n\r\u2028\u2029]/g, ' ');

/**
 * `text` where `code[from, to)` was, padded to the same length with blanks that keep its line
 * breaks, so that every other position in the file, and the source map's lines and columns with
 * them, stay where they were.
 */
const edit = (code, from, to, text) => ({
  from,
  to,
  text: text + blank(code.slice(from + text.length, to)),
});

/**
 * The edits that take out a `__name(fn, "name")` call that changes nothing, or undefined for one
 * that may change something. `statement` is the expression statement the call makes up, with
 * the list that holds it and its place there, when it is one.
 */
function editsOf(code, call, parent, statement) {
  const [target, name] = call.arguments;
  if (call.arguments.length !== 2 || name.type !== 'Literal' || typeof name.value !== 'string') {
    return undefined;
  }
  // `function f() {}` then `__name(f, "f");`: the call becomes `0`, an expression statement too.
  // Only straight after that declaration, and only for a name nothing in its scope writes to, so
  // `f` still holds the declared function when the call runs.
  if (statement !== undefined) {
    const declared = statement.list[statement.index - 1];
    return target.type === 'Identifier' &&
      target.name === name.value &&
      declared?.type === 'FunctionDeclaration' &&
      declared.id?.name === name.value &&
      !writtenWithin(statement.scope).has(name.value)
      ? [edit(code, call.start, call.end, '0')]
      : undefined;
  }
  const named =
    (isAnonymousFunction(target) && nameGivenBy(parent, call) === name.value) ||
    (target.type === 'FunctionExpression' && target.id?.name === name.value);
  // `__name(() => {}, "f")` becomes `(() => {})`: a function in parentheses is named as a bare
  // one. Not where the `(` would call or index what comes before it.
  if (!named || !OPENS_AN_EXPRESSION.has(previousCharacter(code, call.start))) return undefined;
  return [
    edit(code, call.start, target.start, '('),
    { from: target.end, to: call.end, text: blank(code.slice(target.end, call.end - 1)) + ')' },
  ];
}

/** `code` without the `__name` calls that set a name the function already has. */
export function withoutRedundantNames(code) {
  const program = parse(code, {
    ecmaVersion: 'latest',
    sourceType: 'module',
    preserveParens: true,
  });
  const calls = [];
  let otherUses = 0;
  // Iterative, parent-aware walk: the bundle nests far deeper than the call stack allows.
  const pending = [{ node: program }];
  while (pending.length > 0) {
    const { node, parent, statement } = pending.pop();
    if (node.type === 'Identifier' && node.name === '__name' && !namesAProperty(node, parent)) {
      if (!(parent.type === 'CallExpression' && parent.callee === node)) otherUses += 1;
    }
    if (
      node.type === 'CallExpression' &&
      node.callee.type === 'Identifier' &&
      node.callee.name === '__name'
    ) {
      calls.push({
        call: node,
        parent,
        statement: parent.type === 'ExpressionStatement' ? statement : undefined,
      });
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) {
        value.forEach((child, index) => {
          if (child?.type)
            pending.push({
              node: child,
              parent: node,
              // A declaration in a `case` is in scope in the whole `switch`.
              statement: { list: value, index, scope: node.type === 'SwitchCase' ? parent : node },
            });
        });
      } else if (value?.type) {
        // An expression statement's call is looked at with the statement's place in its list.
        pending.push({
          node: value,
          parent: node,
          statement: node.type === 'ExpressionStatement' ? statement : undefined,
        });
      }
    }
  }
  // The helper's own declaration is the one other use there may be: any other (a parameter, a
  // local function, an assignment named `__name`) could make a call here mean something else.
  const helpers = program.body.filter(
    (statement) =>
      statement.type === 'VariableDeclaration' &&
      statement.declarations.some((declarator) => declarator.id.name === '__name'),
  ).length;
  if (helpers !== 1 || otherUses !== 1) return { code, removed: 0, kept: calls.length };
  const edits = [];
  let removed = 0;
  for (const { call, parent, statement } of calls) {
    const callEdits = editsOf(code, call, parent, statement);
    if (callEdits === undefined) continue;
    edits.push(...callEdits);
    removed += 1;
  }
  edits.sort((a, b) => a.from - b.from);
  let out = '';
  let at = 0;
  for (const { from, to, text } of edits) {
    out += code.slice(at, from) + text;
    at = to;
  }
  return { code: out + code.slice(at), removed, kept: calls.length - removed };
}
