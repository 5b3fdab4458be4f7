import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';

/**
 * Far above what the schema's real operations need (depth 3, no aliases, under 1 KB), far below
 * what it takes to make one request cost many: the body limit (16 KB) alone would let a document
 * fan one field out into hundreds of aliased upstream calls.
 */
export const DOCUMENT_LIMITS = {
  maxDepth: 8,
  maxAliases: 15,
  maxQueryBytes: 8 * 1024,
  /**
   * Brackets, braces and parentheses, counted before parsing: graphql-js parses nested values
   * and selections recursively and overflows the stack somewhere past 1,000 levels, before any
   * validation rule can run. Far above what the depth limit lets through.
   */
  maxNesting: 32,
} as const;

const OPENING = new Set<string>([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSING = new Set<string>([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/**
 * The message refusing a document whose brackets, braces and parentheses nest deeper than
 * `maxNesting`, or undefined. graphql-js's own lexer reads the tokens one after another (no
 * recursion, strings and comments skipped); a document it cannot read is left to the parser,
 * which says why.
 */
export function documentNestingRefusal(query: string): string | undefined {
  const lexer = new Lexer(new Source(query));
  let depth = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      if (OPENING.has(token.kind)) depth += 1;
      else if (CLOSING.has(token.kind)) depth -= 1;
      if (depth > DOCUMENT_LIMITS.maxNesting) {
        return `query nesting limit: brackets, braces and parentheses nest more than ${DOCUMENT_LIMITS.maxNesting} levels deep`;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

interface Cost {
  depth: number;
  aliases: number;
}

/**
 * A validation rule, so a document over a limit is refused like any invalid one (400,
 * BAD_USER_INPUT / GW.VALIDATION) before a resolver, and so any upstream call, can run. Depth
 * and aliases are counted with fragments expanded, as they would execute.
 */
export function documentLimitsRule(context: ValidationContext): ASTVisitor {
  const costs = new Map<string, Cost>();
  const expanding = new Set<string>();

  const fragmentCost = (fragment: FragmentDefinitionNode): Cost => {
    const name = fragment.name.value;
    const known = costs.get(name);
    if (known) return known;
    // A cycle is refused by graphql-js's own NoFragmentsCycles rule; here it only must not loop.
    if (expanding.has(name)) return { depth: 0, aliases: 0 };
    expanding.add(name);
    const cost = selectionCost(fragment.selectionSet);
    expanding.delete(name);
    costs.set(name, cost);
    return cost;
  };

  const selectionCost = (selectionSet: SelectionSetNode): Cost => {
    let depth = 0;
    let aliases = 0;
    for (const selection of selectionSet.selections) {
      let inner: Cost = { depth: 0, aliases: 0 };
      if (selection.kind === Kind.FIELD) {
        if (selection.selectionSet) inner = selectionCost(selection.selectionSet);
        inner = { depth: inner.depth + 1, aliases: inner.aliases + (selection.alias ? 1 : 0) };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        inner = selectionCost(selection.selectionSet);
      } else {
        const fragment = context.getFragment(selection.name.value);
        if (fragment) inner = fragmentCost(fragment);
      }
      depth = Math.max(depth, inner.depth);
      aliases += inner.aliases;
    }
    return { depth, aliases };
  };

  return {
    Document(document) {
      const bytes = Buffer.byteLength(document.loc?.source.body ?? '', 'utf8');
      if (bytes > DOCUMENT_LIMITS.maxQueryBytes) {
        context.reportError(
          new GraphQLError(
            `query size limit: the document is ${bytes} bytes, at most ${DOCUMENT_LIMITS.maxQueryBytes} are accepted`,
          ),
        );
      }
    },
    OperationDefinition(operation) {
      const { depth, aliases } = selectionCost(operation.selectionSet);
      if (depth > DOCUMENT_LIMITS.maxDepth) {
        context.reportError(
          new GraphQLError(
            `query depth limit: the operation is ${depth} levels deep, at most ${DOCUMENT_LIMITS.maxDepth} are accepted`,
            { nodes: operation },
          ),
        );
      }
      if (aliases > DOCUMENT_LIMITS.maxAliases) {
        context.reportError(
          new GraphQLError(
            `alias limit: the operation uses ${aliases} aliases, at most ${DOCUMENT_LIMITS.maxAliases} are accepted`,
            { nodes: operation },
          ),
        );
      }
      return false;
    },
  };
}
