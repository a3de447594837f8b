// The plan checked against the disk just before bubblewrap runs. bubblewrap
// resolves symlinks in every source and destination it is given, so a plan
// path that is (or goes through) a symlink could mount a different place than
// the one the policy was asked about. Each path must exist and be its own real
// path. What remains is the window between this check and bubblewrap's mounts:
// the caller closes it by running one command per workspace at a time (no
// sandboxed process is alive to swap a directory meanwhile).

import { promises as fsp } from 'node:fs';
import { errnoCode } from './errno.js';
import type { SandboxPlan } from './plan.js';


async function problemWith(p: string, what: string, kind: 'dir' | 'file' | 'any'): Promise<string | null> {
  let st;
  let real;
  try {
    st = await fsp.lstat(p);
    real = await fsp.realpath(p);
  } catch (err) {
    return `${what} ${p} cannot be used (${errnoCode(err)})`;
  }
  if (real !== p || st.isSymbolicLink()) return `${what} ${p} is a symlink or goes through one`;
  if (kind === 'dir' && !st.isDirectory()) return `${what} ${p} is not a directory`;
  if (kind === 'file' && st.isDirectory()) return `${what} ${p} is a directory, planned as a file`;
  return null;
}

/** The first reason the plan does not match the disk, or null when it does. */
export async function planProblemOnDisk(plan: SandboxPlan): Promise<string | null> {
  const checks: Array<[string, string, 'dir' | 'file' | 'any']> = [
    [plan.workspace, 'workspace', 'dir'],
    [plan.cwd, 'working directory', 'dir'],
    ...plan.writable.map((p): [string, string, 'any'] => [p, 'writable path', 'any']),
    ...plan.readOnly.map((p): [string, string, 'any'] => [p, 'read-only path', 'any']),
    ...plan.hidden.map((h): [string, string, 'dir' | 'file'] => [h.path, 'hidden path', h.kind]),
  ];
  for (const [p, what, kind] of checks) {
    const problem = await problemWith(p, what, kind);
    if (problem !== null) return problem;
  }
  return null;
}
