import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Microseconds of self time per name, heaviest first. */
export type SelfTimes = [name: string, us: number][];

export interface ProfileSummary {
  sampledUs: number;
  /** A package under node_modules, a folder of the gateway's build, Node's internals, or V8's own. */
  areas: SelfTimes;
  functions: SelfTimes;
}

/** Where a V8 CPU profile's samples went, by self time. */
export function summarizeProfile(file: string, top: number): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const profiler = profilerNodes(profile.nodes, byId);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    if (profiler.has(id)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  const tally = (key: (node: ProfileNode) => string): SelfTimes => {
    const sums = new Map<string, number>();
    for (const [id, us] of selfUs) {
      const node = byId.get(id);
      if (node) sums.set(key(node), (sums.get(key(node)) ?? 0) + us);
    }
    return [...sums].sort((a, b) => b[1] - a[1]).slice(0, top);
  };
  return {
    sampledUs: [...selfUs.values()].reduce((sum, us) => sum + us, 0),
    areas: tally(({ callFrame }) => areaOf(sourceOf(callFrame), callFrame.functionName)),
    functions: tally(
      ({ callFrame }) =>
        `${callFrame.functionName || '(anonymous)'} ${where(callFrame.url)}:${callFrame.lineNumber + 1}`,
    ),
  };
}

export function renderProfileSummary(file: string, summary: ProfileSummary): string {
  const table = (title: string, rows: SelfTimes) =>
    [
      `| ${title} | self ms | % |`,
      '| --- | --- | --- |',
      ...rows.map(
        ([name, us]) =>
          `| ${name} | ${(us / 1000).toFixed(0)} | ${((100 * us) / summary.sampledUs).toFixed(1)} |`,
      ),
    ].join('\n');
  return [
    `${file}: ${(summary.sampledUs / 1000).toFixed(0)} ms sampled`,
    '',
    table('area', summary.areas),
    '',
    table('function', summary.functions),
    '',
  ].join('\n');
}

/**
 * The profiler's own frames (the preload handling the signal that stops it, and what that
 * calls): the stop is sampled while it builds the profile, and is no part of the gateway's work.
 */
function profilerNodes(nodes: ProfileNode[], byId: Map<number, ProfileNode>): Set<number> {
  const found = new Set<number>();
  const pending = nodes.filter((node) => node.callFrame.url.endsWith('cpu-profiler.preload.mjs'));
  for (let node = pending.pop(); node; node = pending.pop()) {
    if (found.has(node.id)) continue;
    found.add(node.id);
    for (const child of node.children ?? []) {
      const next = byId.get(child);
      if (next) pending.push(next);
    }
  }
  return found;
}

const sourceMaps = new Map<string, SourceMap | null>();

/**
 * The file a frame's code came from: for the bundle, through its source map, so that time in
 * the bundle is told by package and folder as it is for the unbundled build.
 */
function sourceOf({ url, lineNumber, columnNumber }: ProfileNode['callFrame']): string {
  if (!url.startsWith('file://')) return url;
  if (!sourceMaps.has(url)) {
    const mapFile = new URL(`${url}.map`);
    sourceMaps.set(
      url,
      existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : null,
    );
  }
  const entry = sourceMaps.get(url)?.findEntry(lineNumber, columnNumber);
  return entry && 'originalSource' in entry ? new URL(entry.originalSource, url).href : url;
}

function areaOf(url: string, functionName: string): string {
  if (url === '') return `(${functionName.replace(/^\(|\)$/g, '') || 'native'})`;
  if (url.startsWith('node:')) return 'node internals';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1];
  // The build's folders, or the sources' where the build's own source maps lead back to them.
  const own = /\/(?:dist|src)\/(?:(.+)\/)?[^/]+$/.exec(url);
  if (own) return own[1] ? `gateway ${own[1]}` : 'gateway';
  return url;
}

function where(url: string): string {
  return url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url;
}
