// Bundles the compiled gateway (`dist/main.js`) and its SQLite writer thread into
// `dist/bundle/`, the form the production image and the benchmark run. One file each instead of
// some two thousand modules: Node spends most of the gateway's start-up resolving, reading and
// compiling modules one by one (docs/PERFORMANCE.md, run 16). It bundles tsc's output, not the
// sources, because esbuild does not emit the decorator metadata Nest's injection reads.
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { build } from 'esbuild';
import { withoutRedundantNames } from './redundant-names.mjs';

const OUT_DIR = 'dist/bundle';

/**
 * Loaded from node_modules at run time: a native addon, and a package whose files are served
 * from its own folder (the API docs' assets), which it finds by its own `__dirname`.
 */
const FROM_NODE_MODULES = ['better-sqlite3', 'swagger-ui-dist'];

/**
 * The simulator stays outside the bundle: the gateway imports it only when it runs in development
 * without an upstream, from the compiled tree beside it; the production image does not have it.
 */
const SIMULATOR_IMPORT = /^\.\.\/simulator\//;

/**
 * Packages the lock file installs for development only (Nest's Express platform, the test and
 * build tools…): the production image prunes them, so the bundle leaves them as imports too.
 */
const lockFile = JSON.parse(await readFile('package-lock.json', 'utf8'));
const DEVELOPMENT_ONLY = new Set(
  Object.entries(lockFile.packages)
    .filter(([path, entry]) => entry.dev === true && path.lastIndexOf('node_modules/') === 0)
    .map(([path]) => path.slice('node_modules/'.length)),
);

/** `@scope/name` or `name`: the package a bare import names. */
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/**
 * Libraries ask for optional packages only when a feature is used that the gateway does not use
 * (Nest's microservices and websockets, Apollo Gateway, pg-native…), inside a try or a lazy
 * import. Those, and the development-only ones, stay imports, as they are in the unbundled build.
 */
const packagesLeftOut = {
  name: 'packages-left-out',
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === 'probing') return undefined;
      const leftOut = { path: args.path, external: true };
      if (DEVELOPMENT_ONLY.has(packageOf(args.path))) return leftOut;
      const found = await builder.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: 'probing',
      });
      return found.errors.length > 0 ? leftOut : undefined;
    });
  },
};

const simulatorLeftOut = {
  name: 'simulator-left-out',
  setup(builder) {
    builder.onResolve({ filter: SIMULATOR_IMPORT }, (args) => ({
      path: args.path,
      external: true,
    }));
  },
};

/** What CommonJS code inside an ES module bundle expects to find: `require` and its own path. */
const COMMONJS_GLOBALS = `import { createRequire as __bundleRequire } from 'node:module';
import { fileURLToPath as __bundleFilePath } from 'node:url';
import { dirname as __bundleDirname } from 'node:path';
const require = __bundleRequire(import.meta.url);
const __filename = __bundleFilePath(import.meta.url);
const __dirname = __bundleDirname(__filename);`;

/**
 * V8 holds a script's source in one byte per character only when every character is Latin-1;
 * a single one beyond (a few locale regular expressions of `validator` have Cyrillic, Greek and
 * Arabic letters, which esbuild leaves in regular expression literals) makes the whole source
 * two bytes per character: twice the megabytes, kept for the life of the process. Escaped as
 * `\\uXXXX` (one per UTF-16 unit), they mean the same in strings, regular expressions and
 * comments.
 */
const asciiOnly = (code) =>
  code.replace(/[\u0080-\uffff]/g, (unit, at) => {
    // After a backslash the escape would be read as a different escape.
    if (code[at - 1] === '\\') throw new Error(`a backslash before a non-ASCII character at ${at}`);
    return `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });

await rm(OUT_DIR, { recursive: true, force: true });
const { outputFiles } = await build({
  entryPoints: {
    main: 'dist/main.js',
    'sqlite-audit-worker': 'dist/audit/sqlite-audit-worker.js',
  },
  outdir: OUT_DIR,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // GraphQL's code-first types and Nest's log contexts are named after classes. The `__name`
  // wraps this adds that set no new name are taken out of the output (redundant-names.mjs).
  keepNames: true,
  minifyWhitespace: true,
  // Read by no one at run time (Node applies maps only with --enable-source-maps, which costs
  // on every error's stack); there for turning a stack trace or a CPU profile of the bundle
  // back into files (`npm run bench:profile` does).
  sourcemap: 'linked',
  sourcesContent: false,
  external: FROM_NODE_MODULES,
  plugins: [simulatorLeftOut, packagesLeftOut],
  banner: { js: COMMONJS_GLOBALS },
  logLevel: 'warning',
  write: false,
});
await mkdir(OUT_DIR, { recursive: true });
const compiled = (file) =>
  file.path.endsWith('.js') ? withoutRedundantNames(file.text).code : file.text;
await Promise.all(outputFiles.map((file) => writeFile(file.path, asciiOnly(compiled(file)))));
// The migrations are read from beside the code that runs them.
await cp('dist/audit/postgres/migrations', `${OUT_DIR}/migrations`, { recursive: true });
