// Where the installed package lives, and where a workspace keeps its records.
import { fileURLToPath } from 'node:url';
import { existsSync, realpathSync, statSync } from 'node:fs';
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

export const POLICY_FILE = 'choragen.governance.yaml';

export function stateDir(workspace: string): string {
  return path.join(workspace, '.choragen');
}
export const workspacePaths = (workspace: string) => ({
  state: stateDir(workspace),
  metrics: path.join(stateDir(workspace), 'metrics.duckdb'),
  audit: path.join(stateDir(workspace), 'audit'),
  sessions: path.join(stateDir(workspace), 'sessions'),
  policy: path.join(workspace, POLICY_FILE),
});


/**
 * The workspace root as a real path: --workspace as given, else found as git
 * finds a repository: from `cwd` up to the nearest directory holding
 * choragen.governance.yaml, stopping at a git root (a directory with .git),
 * which is the workspace when it has no policy yet; the current directory
 * when neither is found. A one-line usage error if it is not a directory.
 */
export function resolveWorkspace(dir: string | undefined, cwd: string = process.cwd()): string {
  const given = dir ?? cwd;
  let root: string;
  try {
    root = realpathSync(given);
    if (!statSync(root).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new UsageError(`workspace not found: ${given}`);
  }
  if (dir !== undefined) return root;
  for (let at = root; ; at = path.dirname(at)) {
    if (existsSync(path.join(at, POLICY_FILE)) || existsSync(path.join(at, '.git'))) return at;
    if (path.dirname(at) === at) return root;
  }
}

/**
 * A path typed on the command line, relative to the workspace: from the
 * current directory when that is inside the workspace (as git takes paths),
 * else from the workspace root.
 */
export function workspaceRelative(workspace: string, typed: string, cwd: string = process.cwd()): string {
  let here: string;
  try {
    here = realpathSync(cwd);
  } catch {
    return typed;
  }
  const within = (p: string) => p === workspace || p.startsWith(workspace + path.sep);
  if (path.isAbsolute(typed)) return within(typed) ? path.relative(workspace, typed) || '.' : typed;
  if (!within(here)) return typed;
  return path.relative(workspace, path.resolve(here, typed)) || '.';
}
