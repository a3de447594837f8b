// Where the installed package lives, and where a workspace keeps its records.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

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
