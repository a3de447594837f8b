// Canonical workspace paths (DESIGN.md §3): the policy decides on where a
// path really leads, not on how the model spelled it. Absolute paths, NUL
// bytes, `..` escapes and oversized paths are refused outright; symlinks are
// resolved on every component (intermediate and final, existing or not yet
// created, dangling included) and the resolved location must stay inside the
// workspace.
//
// What comes out is a CheckedPath: the only value the filesystem authority
// (capabilities/fs/authority.ts) accepts. Only this module can make one: the
// constructor needs a token no other module holds, and the class is branded
// with a private field, so neither an object literal nor a copy passes.
//
// Refusals are one line for the model: they quote the path as given (never an
// absolute one) and never reveal where a symlink points.

import { realpathSync } from 'node:fs';
import { lstat, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ToolRefusal } from './errors.js';

/** Linux gives up after 40 links (ELOOP); so do we. */
const MAX_SYMLINKS = 40;
/** A model-supplied path longer than this (UTF-8 bytes) is refused before any work: Linux's PATH_MAX. */
export const MAX_PATH_BYTES = 4096;
/** A model-supplied path with more components than this is refused before any work. */
export const MAX_PATH_COMPONENTS = 256;
/** Components a resolution may visit, symlink targets included, before it is refused. */
const MAX_RESOLVE_STEPS = MAX_PATH_COMPONENTS * 16;

const MINT = Symbol('CheckedPath.mint');

/**
 * A workspace path this module checked: `rel` is workspace-relative,
 * `/`-separated, with symlinks resolved ("." for the root); `abs` is where it
 * is on disk. Derived paths (`parent`, `child`, `descend`) are lexical: they
 * name entries below a checked directory, and the authority never follows a
 * symlink met on the way to them.
 */
export class CheckedPath {
  readonly #root: string;
  /** workspace-relative, `/`-separated, symlinks resolved; "." for the root */
  readonly rel: string;
  /** absolute path on disk */
  readonly abs: string;
  /** whether every component existed when it was checked (derived paths: as the caller said) */
  readonly exists: boolean;

  private constructor(token: symbol, root: string, rel: string, exists: boolean) {
    if (token !== MINT) throw new TypeError('a CheckedPath is made by policy/canonical only');
    this.#root = root;
    this.rel = rel;
    this.abs = rel === '.' ? root : path.join(root, ...rel.split('/'));
    this.exists = exists;
    Object.freeze(this);
  }

  /** @internal the factory of this module; the token keeps everyone else out. */
  static mint(token: symbol, root: string, rel: string, exists: boolean): CheckedPath {
    return new CheckedPath(token, root, rel, exists);
  }

  /** Whether `value` is a CheckedPath this module made (a look-alike object is not). */
  static is(value: unknown): value is CheckedPath {
    return typeof value === 'object' && value !== null && #root in value;
  }

  /** The real path of the workspace this path belongs to. */
  get root(): string {
    return this.#root;
  }

  /** The last component ("" for the root). */
  get name(): string {
    return this.rel === '.' ? '' : this.rel.slice(this.rel.lastIndexOf('/') + 1);
  }

  /** The directory holding this entry; null for the root. */
  parent(): CheckedPath | null {
    if (this.rel === '.') return null;
    const cut = this.rel.lastIndexOf('/');
    return new CheckedPath(MINT, this.#root, cut === -1 ? '.' : this.rel.slice(0, cut), true);
  }

  /** The entry `name` directly in this directory (a name from a listing: no `/`, not `.` or `..`). */
  child(name: string, exists = true): CheckedPath {
    if (!isEntryName(name)) {
      throw new ToolRefusal(`${JSON.stringify(name.slice(0, 200))} is not a file name`, 'deny', 'path', null);
    }
    return new CheckedPath(MINT, this.#root, this.rel === '.' ? name : `${this.rel}/${name}`, exists);
  }

  /** `rel` (`/`-separated names, no `.` or `..`) below this directory. */
  descend(rel: string, exists = true): CheckedPath {
    if (rel === '' || rel === '.') return this;
    let at: CheckedPath = this;
    for (const name of rel.split('/')) at = at.child(name, exists);
    return at;
  }
}

function isEntryName(name: string): boolean {
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
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

/** Non-empty `/`-separated segments of `input`, counted without splitting a huge string. */
function componentCount(input: string, stopAt: number): number {
  let count = 0;
  let inSegment = false;
  for (let i = 0; i < input.length; i++) {
    if (input.charCodeAt(i) === 0x2f) inSegment = false;
    else if (!inSegment) {
      inSegment = true;
      if (++count > stopAt) return count;
    }
  }
  return count;
}

/** The workspace root as a CheckedPath: where every derived path starts. */
export async function workspaceRoot(workspaceRoot: string): Promise<CheckedPath> {
  return CheckedPath.mint(MINT, await realRoot(workspaceRoot), '.', true);
}

/**
 * Resolve `input` (relative to `workspaceRoot`) to where it really leads.
 * Throws ToolRefusal(decision 'deny', rule 'path') when it is not a
 * workspace path. `""` is read as the root, like `"."`.
 */
export async function canonicalize(workspaceRoot: string, input: string): Promise<CheckedPath> {
  const given = typeof input === 'string' ? input : null;
  const refuse = (reason: string) => new ToolRefusal(reason, 'deny', 'path', given === null ? null : given.slice(0, 200));

  if (typeof input !== 'string') throw refuse('path must be a string');
  // Bounds first: nothing below may cost more than a few thousand steps.
  if (input.length > MAX_PATH_BYTES || Buffer.byteLength(input, 'utf8') > MAX_PATH_BYTES) {
    throw refuse(`path is too long (${Buffer.byteLength(input, 'utf8')} bytes; at most ${MAX_PATH_BYTES})`);
  }
  if (componentCount(input, MAX_PATH_COMPONENTS) > MAX_PATH_COMPONENTS) {
    throw refuse(`path has too many components (at most ${MAX_PATH_COMPONENTS})`);
  }
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

  const walked = await walk(root, parts, {
    loop: () => refuse(`${quote(input)} has too many levels of symbolic links`),
    deep: () => refuse(`${quote(input)} has too many components once its symbolic links are followed`),
  });
  if (!isInside(root, walked.abs)) throw outside();
  return result(root, walked.abs, walked.exists);
}

/**
 * Follow `parts` from `root` one component at a time, expanding every symlink
 * met (a dangling one too: its target is where a write would land). Below the
 * first missing component nothing can be a link, so the rest is appended.
 * Linear in the components visited: `pending` is a stack (next component
 * last) and the resolved path is kept as its components.
 */
async function walk(root: string, parts: string[], refusals: { loop: () => Error; deep: () => Error }): Promise<{ abs: string; exists: boolean }> {
  const pending = parts.slice().reverse();
  let resolved = splitAbs(root);
  let exists = true;
  /** While `exists` is false: the depth of the first missing component ('..' back above it finds links again). */
  let missingDepth = 0;
  let hops = 0;
  let steps = 0;
  while (pending.length > 0) {
    if (++steps > MAX_RESOLVE_STEPS) throw refusals.deep();
    const part = pending.pop()!;
    if (part === '..') {
      if (resolved.length > 1) resolved.pop();
      if (!exists && resolved.length < missingDepth) exists = true;
      continue;
    }
    resolved.push(part);
    if (!exists) continue;
    const next = joinAbs(resolved);
    let isLink: boolean;
    try {
      isLink = (await lstat(next)).isSymbolicLink();
    } catch {
      exists = false; // ENOENT, or ENOTDIR under a regular file
      missingDepth = resolved.length;
      continue;
    }
    if (!isLink) continue;
    if (++hops > MAX_SYMLINKS) throw refusals.loop();
    const target = await readlink(next);
    resolved.pop();
    const targetParts = target.split(path.sep === '\\' ? /[\\/]/ : '/').filter((p) => p !== '' && p !== '.');
    if (pending.length + targetParts.length > MAX_RESOLVE_STEPS) throw refusals.deep();
    for (let i = targetParts.length - 1; i >= 0; i--) pending.push(targetParts[i]!);
    if (path.isAbsolute(target)) resolved = splitAbs(path.parse(path.resolve(target)).root);
  }
  return { abs: joinAbs(resolved), exists };
}

/** An absolute path as [filesystem root, ...components]. */
function splitAbs(abs: string): string[] {
  const { root } = path.parse(abs);
  return [root, ...abs.slice(root.length).split(path.sep).filter((p) => p !== '')];
}

function joinAbs(parts: string[]): string {
  return parts.length === 1 ? parts[0]! : parts[0]! + parts.slice(1).join(path.sep);
}

function result(root: string, abs: string, exists: boolean): CheckedPath {
  const rel = path.relative(root, abs).split(path.sep).join('/');
  return CheckedPath.mint(MINT, root, rel === '' ? '.' : rel, exists);
}
