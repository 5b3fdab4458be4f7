import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const SRC = resolve('src');
/** `import … from '…'`, `export … from '…'` and `import('…')`, relative ones only. */
const RELATIVE_IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** The gateway's own code: specs may reach across folders to set things up. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** The top-level folder under src/ a file is in; files directly in src/ are the composition root. */
const folderOf = (path: string): string | undefined => {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 ? parts[0] : undefined;
};

/** Which folder imports which, from every relative import of every source file. */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    if (from === undefined) continue;
    const imports = graph.get(from) ?? new Set<string>();
    graph.set(from, imports);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(RELATIVE_IMPORT)) {
      const to = folderOf(resolve(dirname(file), specifier));
      if (to !== undefined && to !== from) imports.add(to);
    }
  }
  return graph;
}

/** Every cycle, each named once by the path from its first folder back to it. */
function cyclesOf(graph: Map<string, Set<string>>): string[] {
  const cycles = new Set<string>();
  const visit = (path: string[]): void => {
    for (const next of graph.get(path[path.length - 1]) ?? []) {
      const start = path.indexOf(next);
      if (start >= 0) {
        const cycle = path.slice(start);
        const first = cycle.indexOf([...cycle].sort()[0]);
        const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
        cycles.add([...rotated, rotated[0]].join(' -> '));
      } else {
        visit([...path, next]);
      }
    }
  };
  for (const folder of graph.keys()) visit([folder]);
  return [...cycles].sort();
}

describe('the folders of src/', () => {
  const graph = folderGraph();

  it('import each other in one direction only (no cycle, however long)', () => {
    expect(cyclesOf(graph)).toEqual([]);
  });

  it('have the domain at the bottom: it imports no other folder', () => {
    expect([...(graph.get('domain') ?? [])]).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const looped = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
    ]);
    expect(cyclesOf(looped)).toEqual(['a -> b -> c -> a']);
  });
});
