import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/**
 * `npm run bench:profile -- <file.cpuprofile> [--top=25]`: where a V8 CPU profile's samples
 * went, by self time: per area (a package under node_modules, a folder of the gateway's build,
 * Node's internals, the garbage collector, idle) and per function.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  throw new Error('usage: npm run bench:profile -- <file.cpuprofile> [--top=25]');
}
const top = Number(rest.find((arg) => arg.startsWith('--top='))?.slice('--top='.length) ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

const selfUs = new Map<number, number>();
profile.samples.forEach((id, index) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
});
const totalUs = [...selfUs.values()].reduce((sum, us) => sum + us, 0);

function areaOf(url: string, functionName: string): string {
  if (url === '') return `(${functionName.replace(/^\(|\)$/g, '') || 'native'})`;
  if (url.startsWith('node:')) return 'node internals';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1];
  const built = /\/dist\/(.+)\/[^/]+$/.exec(url);
  if (built) return `gateway ${built[1]}`;
  return url;
}

function tally(key: (node: ProfileNode) => string): [string, number][] {
  const sums = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const name = key(node);
    sums.set(name, (sums.get(name) ?? 0) + us);
  }
  return [...sums].sort((a, b) => b[1] - a[1]).slice(0, top);
}

function table(title: string, rows: [string, number][]): string {
  const lines = rows.map(
    ([name, us]) =>
      `| ${name} | ${(us / 1000).toFixed(0)} | ${((100 * us) / totalUs).toFixed(1)} |`,
  );
  return [`| ${title} | self ms | % |`, '| --- | --- | --- |', ...lines].join('\n');
}

const where = (url: string) =>
  url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url;
process.stdout.write(
  [
    `${file}: ${(totalUs / 1000).toFixed(0)} ms sampled`,
    '',
    table(
      'area',
      tally((node) => areaOf(node.callFrame.url, node.callFrame.functionName)),
    ),
    '',
    table(
      'function',
      tally(
        ({ callFrame }) =>
          `${callFrame.functionName || '(anonymous)'} ${where(callFrame.url)}:${callFrame.lineNumber + 1}`,
      ),
    ),
    '',
  ].join('\n'),
);
