import { renderProfileSummary, summarizeProfile } from './cpu-profile-summary.js';

/**
 * `npm run bench:profile -- <file.cpuprofile> [--top=25]`: a CPU profile's heaviest areas (a
 * package, a folder of the gateway's build, Node's internals, GC, idle) and functions.
 */
const [file, ...rest] = process.argv.slice(2);
if (!file) {
  throw new Error('usage: npm run bench:profile -- <file.cpuprofile> [--top=25]');
}
const top = Number(rest.find((arg) => arg.startsWith('--top='))?.slice('--top='.length) ?? 25);
process.stdout.write(renderProfileSummary(file, summarizeProfile(file, top)));
