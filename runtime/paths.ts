// Where the installed package lives, and where a workspace keeps its records.
import { fileURLToPath } from 'node:url';
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../policy/errors.js';

/** The package root: this file is dist/runtime/paths.js once compiled. */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
export const distRoot = path.join(packageRoot, 'dist');

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
