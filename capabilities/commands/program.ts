// Which file argv[0] names, found the way the sandbox will find it: a bare
// name on the sandbox's PATH (system directories first, the workspace's
// node_modules/.bin last), a path relative to the working directory, or an
// absolute path. The built-in guard decides on what is found here (a link
// named `tsc` that leads to a shell is a shell), and on where a path leads.
//
// A program in the workspace is looked at through the broker's resolution
// (every symlink followed, inside the workspace only) and the filesystem
// authority; one whose links lead out of the workspace is reported as such,
// never followed there. A program outside it is the host's (sandbox/host.ts).

import path from 'node:path';
import { runnerCommand, type ProgramFacts } from '../../policy/command-guard.js';
import type { CheckedPath } from '../../policy/canonical.js';
import { ToolRefusal } from '../../policy/errors.js';
import { entryStats } from '../fs/authority.js';
import { hostProgram, type HostProgram } from '../sandbox/host.js';
import { isWithin } from '../sandbox/plan.js';

export interface ResolvedProgram {
  /** For the guard. */
  facts: ProgramFacts;
  /** The file that would run, or null when there is none (the command cannot start). */
  found: string | null;
}

export interface ProgramPlaces {
  root: CheckedPath;
  cwd: CheckedPath;
  pathDirs: readonly string[];
  /** Where a workspace path really leads (ToolContext.resolve); ToolRefusal when not in the workspace. */
  resolve: (rel: string) => Promise<CheckedPath>;
}

interface WorkspaceProgram extends HostProgram {
  /** Its symlinks lead out of the workspace (or nowhere a workspace path can name). */
  leaves: boolean;
}

async function workspaceProgram(abs: string, where: ProgramPlaces): Promise<WorkspaceProgram> {
  const none = { executable: false, realPath: null };
  let real: CheckedPath;
  try {
    real = await where.resolve(path.relative(where.root.abs, abs).split(path.sep).join('/'));
  } catch (err) {
    if (err instanceof ToolRefusal) return { ...none, leaves: true };
    throw err;
  }
  let stats;
  try {
    stats = real.exists ? entryStats(real) : null;
  } catch {
    stats = null; // moved since it was resolved
  }
  if (stats === null || !stats.isFile()) return { ...none, leaves: false };
  return { executable: (Number(stats.mode) & 0o111) !== 0, realPath: real.abs, leaves: false };
}

export async function resolveProgram(argv0: string, where: ProgramPlaces): Promise<ResolvedProgram> {
  if (argv0 === '' || argv0.includes('\0')) return { facts: {}, found: null };
  const ws = where.root.abs;
  if (!argv0.includes('/')) {
    for (const dir of where.pathDirs) {
      const candidate = path.join(dir, argv0);
      if (isWithin(candidate, ws)) {
        const program = await workspaceProgram(candidate, where);
        // What it would run is not the workspace's: the guard cannot judge it, so it is refused.
        if (program.leaves) return { facts: { outsideAllowedDirs: true, realPath: null }, found: candidate };
        if (program.executable) return { facts: { realPath: program.realPath }, found: candidate };
      } else {
        const program = await hostProgram(candidate);
        if (program.executable) return { facts: { realPath: program.realPath }, found: candidate };
      }
    }
    return { facts: { realPath: null }, found: null };
  }
  const abs = path.resolve(where.cwd.abs, argv0);
  if (isWithin(abs, ws)) {
    const program = await workspaceProgram(abs, where);
    return { facts: { outsideAllowedDirs: program.leaves, realPath: program.realPath }, found: program.executable ? abs : null };
  }
  const allowed = (p: string) => isWithin(p, ws) || where.pathDirs.includes(path.dirname(p));
  const program = await hostProgram(abs);
  // Judged on both the path as written and where it leads.
  const outsideAllowedDirs = !allowed(abs) || (program.realPath !== null && !allowed(program.realPath));
  return { facts: { outsideAllowedDirs, realPath: program.realPath }, found: program.executable ? abs : null };
}

/** Runners within runners (`npx npx tsc`) looked into, at most. */
const MAX_RUNNER_DEPTH = 4;

/**
 * argv[0]'s program, and, when it is a package runner (npx, npm exec), the
 * program of the command it runs, found as the runner finds it: the
 * workspace's node_modules/.bin first.
 */
export async function resolveCommand(argv: readonly string[], where: ProgramPlaces, depth = 0): Promise<ResolvedProgram> {
  const program = await resolveProgram(argv[0] ?? '', where);
  const inner = depth < MAX_RUNNER_DEPTH ? runnerCommand(argv, program.facts.realPath ?? null) : null;
  if (inner === null) return program;
  const ws = where.root.abs;
  const localFirst = [...where.pathDirs.filter((d) => isWithin(d, ws)), ...where.pathDirs.filter((d) => !isWithin(d, ws))];
  const runs = await resolveCommand(inner, { ...where, pathDirs: localFirst }, depth + 1);
  return { ...program, facts: { ...program.facts, runs: runs.facts } };
}
