// Where the installed package lives, and where a workspace keeps its records.
import { fileURLToPath } from 'node:url';
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../policy/errors.js';

/** Defined (true) by scripts/bundle.mjs in the bundle; undeclared in tsc's output. */
declare const CHORAGEN_BUNDLED: boolean | undefined;
const bundled = typeof CHORAGEN_BUNDLED !== 'undefined' && CHORAGEN_BUNDLED;

/**
 * The folder our JavaScript runs from: the bundle's dist/bundle/ (it is flat,
 * so this code sits at its top whichever file esbuild put it in), or tsc's
 * dist/ (this file is dist/runtime/paths.js). Session workers may read it.
 */
export const codeRoot = fileURLToPath(new URL(bundled ? './' : '../', import.meta.url));
/** The package root (package.json, runtime/prompts/): the parent of dist/ either way. */
export const packageRoot = path.join(codeRoot, bundled ? '../../' : '../');
export const distRoot = path.join(packageRoot, 'dist');

/** The session worker's files: piscina's CommonJS entry (workers/pool-entry.cts) and the module it imports. */
export const workerFiles = {
  poolEntry: path.join(codeRoot, bundled ? 'pool-entry.cjs' : 'workers/pool-entry.cjs'),
  sessionWorker: path.join(codeRoot, bundled ? 'session-worker.js' : 'workers/session-worker.js'),
};

export function stateDir(workspace: string): string {
  return path.join(workspace, '.choragen');
}
export const workspacePaths = (workspace: string) => ({
  state: stateDir(workspace),
  metrics: path.join(stateDir(workspace), 'metrics.duckdb'),
  audit: path.join(stateDir(workspace), 'audit'),
  sessions: path.join(stateDir(workspace), 'sessions'),
  policy: path.join(workspace, 'choragen.governance.yaml'),
});

/** The workspace root (--workspace, else the current directory) as a real path; a one-line usage error if it is not a directory. */
export function resolveWorkspace(dir: string | undefined): string {
  const given = dir ?? process.cwd();
  try {
    const root = realpathSync(given);
    if (statSync(root).isDirectory()) return root;
  } catch {
    // reported below, in one line
  }
  throw new UsageError(`workspace not found: ${given}`);
}
