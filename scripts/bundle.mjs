// `npm run build` step two (after tsc): the CLI and the session worker as an
// esbuild bundle in dist/bundle/, which is what `choragen` runs (package.json
// `bin`). Loading a few large files instead of hundreds of small ones is most
// of the start-up it saves (docs/performance.md).
//
// - The CLI is split at its dynamic imports, so `choragen --help` loads the
//   command classes and clipanion only, not what `agent:start` needs.
// - The session worker is a build of its own (no chunk shared with the CLI):
//   a worker loads only worker code.
// - piscina (it loads its thread entry by path) and DuckDB (native) stay in
//   node_modules.
// - The output is flat: runtime/paths.ts finds the package from any bundled
//   file, told by CHORAGEN_BUNDLED that it is bundled.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

/** Options every bundled file is built with (spec/runtime/bundle.spec.ts builds a probe with them). */
export const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  define: { CHORAGEN_BUNDLED: 'true' },
  external: ['piscina', '@duckdb/node-api'],
  // Error classes name themselves from new.target.name, and bundling may rename a class.
  keepNames: true,
  logLevel: 'warning',
};

export async function bundle(outdir = path.join(root, 'dist', 'bundle')) {
  rmSync(outdir, { recursive: true, force: true });
  const at = (file) => path.join(root, file);
  await Promise.all([
    build({
      ...bundleOptions,
      outdir,
      entryPoints: { choragen: at('runtime/cli/main.ts') },
      format: 'esm',
      splitting: true,
      chunkNames: 'chunk-[hash]',
      // CommonJS packages bundled into ESM call require() for Node's built-ins.
      banner: { js: "import { createRequire as __choragenCreateRequire } from 'node:module'; const require = __choragenCreateRequire(import.meta.url);" },
    }),
    build({ ...bundleOptions, outdir, entryPoints: { 'session-worker': at('workers/session-worker.ts') }, format: 'esm' }),
    // The broker's offload worker (model-supplied regexes and globs, diffs, searches under a deadline).
    build({ ...bundleOptions, outdir, entryPoints: { 'offload-worker': at('capabilities/offload/worker.ts') }, format: 'esm' }),
    build({ ...bundleOptions, outdir, entryPoints: { 'pool-entry': at('workers/pool-entry.cts') }, format: 'cjs', outExtension: { '.js': '.cjs' } }),
  ]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await bundle();
