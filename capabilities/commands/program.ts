// Which file argv[0] names, found the way the sandbox will find it: a bare
// name on the sandbox's PATH (system directories first, the workspace's
// node_modules/.bin last), a path relative to the working directory, or an
// absolute path. The built-in guard decides on what is found here (a link
// named `tsc` that leads to a shell is a shell), and on where a path leads.

import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ProgramFacts } from '../../policy/command-guard.js';
import { isWithin } from '../sandbox/plan.js';

export interface ResolvedProgram {
  /** For the guard. */
  facts: ProgramFacts;
  /** The file that would run, or null when there is none (the command cannot start). */
  found: string | null;
}

async function executable(file: string): Promise<boolean> {
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) return false;
    await fsp.access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function realPathOf(file: string): Promise<string | null> {
  return fsp.realpath(file).catch(() => null);
}

export async function resolveProgram(
  argv0: string,
  where: { workspace: string; cwd: string; pathDirs: readonly string[] },
): Promise<ResolvedProgram> {
  if (argv0 === '' || argv0.includes('\0')) return { facts: {}, found: null };
  if (!argv0.includes('/')) {
    for (const dir of where.pathDirs) {
      const candidate = path.join(dir, argv0);
      if (await executable(candidate)) return { facts: { realPath: await realPathOf(candidate) }, found: candidate };
    }
    return { facts: { realPath: null }, found: null };
  }
  const abs = path.resolve(where.cwd, argv0);
  const allowed = (p: string) => isWithin(p, where.workspace) || where.pathDirs.includes(path.dirname(p));
  const real = await realPathOf(abs);
  // Judged on both the path as written and where it leads: a link in the workspace may point anywhere.
  const outsideAllowedDirs = !allowed(abs) || (real !== null && !allowed(real));
  return { facts: { outsideAllowedDirs, realPath: real }, found: (await executable(abs)) ? abs : null };
}

export async function isDirectory(abs: string): Promise<boolean> {
  return fsp.stat(abs).then((st) => st.isDirectory(), () => false);
}
