// Canonical workspace paths (DESIGN.md §3): the policy decides on where a
// path really leads, not on how the model spelled it. Absolute paths, NUL
// bytes and `..` escapes are refused outright; symlinks are resolved on every
// component (intermediate and final, existing or not yet created, dangling
// included) and the resolved location must stay inside the workspace.
//
// Refusals are one line for the model: they quote the path as given (never an
// absolute one) and never reveal where a symlink points.

import { realpathSync } from 'node:fs';
import { lstat, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ToolRefusal } from './errors.js';

/** Linux gives up after 40 links (ELOOP); so do we. */
const MAX_SYMLINKS = 40;

export interface CanonicalPath {
  /** workspace-relative, `/`-separated, symlinks resolved; "." for the root */
  readonly rel: string;
  /** absolute resolved path */
  readonly abs: string;
  /** whether every component existed when checked */
  readonly exists: boolean;
}

/** Whether `abs` is `root` or below it (component-wise: /tmp/ws-secrets is not inside /tmp/ws). */
export function isInside(root: string, abs: string): boolean {
  const r = path.resolve(root);
  const a = path.resolve(abs);
  if (a === r) return true;
  return a.startsWith(r.endsWith(path.sep) ? r : r + path.sep);
}

const realRoots = new Map<string, string>();

/** The realpath of a workspace root, looked up once per root. */
async function realRoot(root: string): Promise<string> {
  let real = realRoots.get(root);
  if (real === undefined) {
    real = await realpath(root).catch(() => path.resolve(root));
    realRoots.set(root, real);
  }
  return real;
}

function quote(input: string): string {
  return JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}…` : input);
}

function isAbsoluteLike(input: string): boolean {
  // POSIX absolute, Windows drive (`C:\`, `C:/`, `C:x`) and UNC / backslash-rooted paths.
  return input.startsWith('/') || input.startsWith('\\') || /^[A-Za-z]:/.test(input);
}

/**
 * Resolve `input` (relative to `workspaceRoot`) to where it really leads.
 * Throws ToolRefusal(decision 'deny', rule 'path') when it is not a
 * workspace path. `""` is read as the root, like `"."`.
 */
export async function canonicalize(workspaceRoot: string, input: string): Promise<CanonicalPath> {
  const given = typeof input === 'string' ? input : null;
  const refuse = (reason: string) => new ToolRefusal(reason, 'deny', 'path', given);

  if (typeof input !== 'string') throw refuse('path must be a string');
  if (input.includes('\0')) throw refuse('path contains a NUL byte');
  if (isAbsoluteLike(input)) throw refuse('absolute paths are not allowed: give a path relative to the workspace root');

  const normalized = path.posix.normalize(input === '' ? '.' : input).replace(/\/+$/, '');
  if (normalized === '..' || normalized.startsWith('../')) throw refuse(`${quote(input)} leaves the workspace`);

  const root = await realRoot(workspaceRoot);
  const parts = normalized.split('/').filter((p) => p !== '' && p !== '.');
  const outside = () => refuse(`${quote(input)} resolves outside the workspace`);

  // Fast path: an existing path resolves in one call (synchronous: a few
  // microseconds here, where a thread-pool round trip costs tens).
  try {
    const real = realpathSync.native(parts.length === 0 ? root : path.join(root, ...parts));
    if (!isInside(root, real)) throw outside();
    return result(root, real, true);
  } catch (err) {
    if (err instanceof ToolRefusal) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw refuse(`${quote(input)} has too many levels of symbolic links`);
    // Missing (or dangling) somewhere along the way: walk it.
  }

  const walked = await walk(root, parts, () => refuse(`${quote(input)} has too many levels of symbolic links`));
  if (!isInside(root, walked.abs)) throw outside();
  return result(root, walked.abs, walked.exists);
}

/**
 * Follow `parts` from `root` one component at a time, expanding every symlink
 * met (a dangling one too: its target is where a write would land). Below the
 * first missing component nothing can be a link, so the rest is appended.
 */
async function walk(root: string, parts: string[], tooMany: () => Error): Promise<{ abs: string; exists: boolean }> {
  const pending = [...parts];
  let current = root;
  let exists = true;
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      current = path.dirname(current);
      continue;
    }
    const next = path.join(current, part);
    if (!exists) {
      current = next;
      continue;
    }
    let isLink: boolean;
    try {
      isLink = (await lstat(next)).isSymbolicLink();
    } catch {
      exists = false; // ENOENT, or ENOTDIR under a regular file
      current = next;
      continue;
    }
    if (!isLink) {
      current = next;
      continue;
    }
    if (++hops > MAX_SYMLINKS) throw tooMany();
    const target = await readlink(next);
    pending.unshift(...target.split(path.sep === '\\' ? /[\\/]/ : '/').filter((p) => p !== '' && p !== '.'));
    if (path.isAbsolute(target)) current = path.parse(path.resolve(target)).root;
  }
  return { abs: current, exists };
}

function result(root: string, abs: string, exists: boolean): CanonicalPath {
  const rel = path.relative(root, abs).split(path.sep).join('/');
  return { rel: rel === '' ? '.' : rel, abs, exists };
}
