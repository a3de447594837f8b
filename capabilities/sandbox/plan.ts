// What one sandboxed command may see and change: the plan the broker derives
// from the policy, checked for shape here (pure) before any argument is built.
// Every path is an absolute host path; inside the sandbox the workspace keeps
// its host path, so file names in a command's output mean the same thing on
// both sides.

import path from 'node:path';
import { SandboxPlanError } from '../../policy/errors.js';

/** An existing path whose content the command must not see. */
export interface HiddenPath {
  path: string;
  /** A file is covered by an empty read-only file, a directory by an empty read-only tmpfs. */
  kind: 'file' | 'dir';
}

export interface SandboxPlan {
  /** Absolute real path of the workspace root; visible read-only unless listed in `writable`. */
  workspace: string;
  /** Working directory of the command: the workspace or a directory inside it. */
  cwd: string;
  /** The command, run directly (bubblewrap execs it; no shell). Looked up on `pathDirs`. */
  argv: readonly string[];
  /** Existing directories or files inside the workspace (or the workspace itself) bound writable. */
  writable: readonly string[];
  /**
   * Existing paths inside writable areas that stay read-only: `.git`, `.choragen`,
   * the policy file, existing paths the policy denies for writes.
   */
  readOnly: readonly string[];
  /** Existing paths inside the workspace the policy denies for reads. */
  hidden: readonly HiddenPath[];
  /** PATH inside, in lookup order (see defaultPathDirs). */
  pathDirs: readonly string[];
}

/** Where the per-command scratch directory appears inside; HOME and TMPDIR live below it. */
export const SANDBOX_SCRATCH = '/tmp/choragen-sandbox';
export const SANDBOX_HOME = `${SANDBOX_SCRATCH}/home`;
export const SANDBOX_TMPDIR = `${SANDBOX_SCRATCH}/tmp`;

/** The system directories every command may run programs from, in the usual order. */
export const SYSTEM_PATH_DIRS: readonly string[] = [
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
];

/**
 * PATH for a command in `workspace`: the system directories first, so `npm`,
 * `node` or `git` always mean the installed programs and a file the model wrote
 * into `node_modules/.bin` cannot stand in for them; then node's own directory
 * (when it is installed elsewhere, e.g. under nvm); then the workspace's
 * `node_modules/.bin` for local tools (tsc, mocha, eslint).
 */
export function defaultPathDirs(workspace: string, nodeBinDir: string = path.dirname(process.execPath)): string[] {
  const dirs = [...SYSTEM_PATH_DIRS];
  if (!dirs.includes(nodeBinDir)) dirs.push(nodeBinDir);
  dirs.push(path.join(workspace, 'node_modules', '.bin'));
  return dirs;
}

// A plan that cannot be turned into a sandbox: one of the error table's classes (policy/errors.ts).
export { SandboxPlanError };

/** `child` is `parent` or below it. */
export function isWithin(child: string, parent: string): boolean {
  if (parent === '/') return child.startsWith('/');
  return child === parent || child.startsWith(`${parent}/`);
}

/** Components below `/`: `/` is 0, `/a/b` is 2. Mounts are made shallow first. */
export function pathDepth(p: string): number {
  return p === '/' ? 0 : p.split('/').length - 1;
}

/** An absolute, normalized path without NUL: what bubblewrap is given verbatim. */
export function checkAbsolute(p: string, what: string): void {
  if (typeof p !== 'string' || p.length === 0) throw new SandboxPlanError(`${what}: empty path`);
  if (p.includes('\0')) throw new SandboxPlanError(`${what}: path contains a NUL byte`);
  if (!path.isAbsolute(p)) throw new SandboxPlanError(`${what}: ${p} is not absolute`);
  if (path.posix.normalize(p) !== p || (p !== '/' && p.endsWith('/'))) {
    throw new SandboxPlanError(`${what}: ${p} is not normalized`);
  }
}

/** Throws SandboxPlanError when the plan is malformed; checks shape only, no I/O. */
export function checkPlanShape(plan: SandboxPlan): void {
  const ws = plan.workspace;
  checkAbsolute(ws, 'workspace');
  if (ws === '/') throw new SandboxPlanError('workspace: the root directory cannot be a workspace');
  for (const system of ['/proc', '/dev', '/sys']) {
    if (isWithin(ws, system)) throw new SandboxPlanError(`workspace: ${ws} is inside ${system}`);
  }
  if (isWithin(ws, SANDBOX_SCRATCH) || isWithin(SANDBOX_SCRATCH, ws)) {
    throw new SandboxPlanError(`workspace: ${ws} overlaps the sandbox's scratch directory ${SANDBOX_SCRATCH}`);
  }
  const inside = (p: string, what: string) => {
    checkAbsolute(p, what);
    if (!isWithin(p, ws)) throw new SandboxPlanError(`${what}: ${p} is outside the workspace ${ws}`);
  };
  inside(plan.cwd, 'cwd');
  plan.writable.forEach((p, i) => inside(p, `writable[${i}]`));
  plan.readOnly.forEach((p, i) => inside(p, `readOnly[${i}]`));
  plan.hidden.forEach((h, i) => {
    inside(h.path, `hidden[${i}]`);
    if (h.path === ws) throw new SandboxPlanError(`hidden[${i}]: the workspace itself cannot be hidden`);
    if (h.kind !== 'file' && h.kind !== 'dir') throw new SandboxPlanError(`hidden[${i}]: kind must be file or dir`);
  });
  if (plan.argv.length === 0) throw new SandboxPlanError('argv: empty command');
  plan.argv.forEach((arg, i) => {
    if (typeof arg !== 'string') throw new SandboxPlanError(`argv[${i}]: not a string`);
    if (arg.includes('\0')) throw new SandboxPlanError(`argv[${i}]: contains a NUL byte`);
  });
  if (plan.argv[0] === '') throw new SandboxPlanError('argv[0]: empty program name');
  if (plan.pathDirs.length === 0) throw new SandboxPlanError('pathDirs: empty PATH');
  plan.pathDirs.forEach((dir, i) => {
    checkAbsolute(dir, `pathDirs[${i}]`);
    if (dir.includes(':')) throw new SandboxPlanError(`pathDirs[${i}]: ${dir} contains ':'`);
  });
}
