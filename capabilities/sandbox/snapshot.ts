// What a command changed: the writable areas of a plan listed before and after
// the run (metadata only, no content), so the broker can check every created,
// modified or deleted path against the policy like a write_file. Every
// listing goes through the filesystem authority (fs/authority.ts): symlinks
// are recorded, never followed, and a directory swapped for a symlink is not
// entered. The walk is bounded by an entry cap and a depth, and fails with a
// clear reason past the cap; a directory it cannot list (or will not, being
// too deep) is reported as such rather than skipped. A name that is not valid
// UTF-8 is recorded by its bytes and never entered: no CheckedPath can name it.

import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import type { CheckedPath } from '../../policy/canonical.js';
import { entryStats, listDirectoryStats } from '../fs/authority.js';
import { tooDeep } from '../fs/walk.js';
import { isWithin, type SandboxPlan } from './plan.js';

export interface SnapshotEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: bigint;
  mtimeNs: bigint;
  /** Set by the kernel on any change of content or metadata, and not settable by a program (unlike mtime). */
  ctimeNs: bigint;
  dev: bigint;
  ino: bigint;
  mode: number;
  /** More than 1: the same file is reachable under another name. */
  nlink: number;
  /** A directory the walk could not list, or is too deep to list: what is below it is unknown. */
  unreadable?: true;
  /** A name that is not valid UTF-8: the directory it is in (workspace-relative), its bytes, and how it is shown. */
  odd?: { dir: string; raw: Buffer; shown: string };
}

export interface Snapshot {
  workspace: string;
  /** Workspace-relative paths of the areas walked (`` for the workspace root). */
  areas: string[];
  /** Workspace-relative paths not walked: the sandbox keeps them read-only or hidden, so they cannot change. */
  excluded: string[];
  /** Keyed by workspace-relative path (an odd name: its shown path, a NUL and its bytes in hex). */
  entries: Map<string, SnapshotEntry>;
}

export type SnapshotResult = { ok: true; snapshot: Snapshot } | { ok: false; reason: string };

export interface SnapshotDiff {
  created: string[];
  /** Content, metadata or type changed (a file replaced by a directory is listed here). */
  modified: string[];
  deleted: string[];
  /** Directories that could not be listed afterwards: their content cannot be checked. */
  unreadable: string[];
}

/** Enough for a large project's writable tree; a walk past it fails instead of stalling the broker. */
export const DEFAULT_SNAPSHOT_MAX_ENTRIES = 100_000;

function entryOf(st: BigIntStats): SnapshotEntry {
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  return {
    type,
    size: st.size,
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
    dev: st.dev,
    ino: st.ino,
    mode: Number(st.mode),
    nlink: Number(st.nlink),
  };
}

/** The entry `rel` ('' for the root) below `root`, as a lexical CheckedPath. */
export function below(root: CheckedPath, rel: string): CheckedPath {
  return rel === '' ? root : root.descend(rel);
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Lists `areas` (absolute paths inside the workspace `root`) and everything
 * below them, except the `exclude` paths and what is below those.
 */
export async function snapshotAreas(
  root: CheckedPath,
  areas: readonly string[],
  options: { exclude?: readonly string[]; maxEntries?: number } = {},
): Promise<SnapshotResult> {
  const workspace = root.abs;
  const maxEntries = options.maxEntries ?? DEFAULT_SNAPSHOT_MAX_ENTRIES;
  const relOf = (abs: string) => path.relative(workspace, abs).split(path.sep).join('/');
  for (const p of [...areas, ...(options.exclude ?? [])]) {
    if (!path.isAbsolute(p) || !isWithin(p, workspace)) return { ok: false, reason: `${p} is not inside the workspace` };
  }
  const exclude = new Set((options.exclude ?? []).map(relOf));
  // An area inside another one is walked as part of it.
  const roots = [...new Set(areas)].filter((a, _, all) => !all.some((b) => b !== a && isWithin(a, b))).map(relOf);
  const entries = new Map<string, SnapshotEntry>();
  const tooMany = (): SnapshotResult => ({
    ok: false,
    reason:
      `the writable areas hold more than ${maxEntries} files and directories, too many to check a command's changes; ` +
      'make fewer or smaller areas writable',
  });

  const pending: string[] = [];
  for (const rel of roots) {
    if (exclude.has(rel)) continue;
    let st;
    try {
      st = entryStats(below(root, rel));
    } catch (err) {
      return { ok: false, reason: `cannot read ${rel || '.'} (${message(err)})` };
    }
    if (st === null) continue;
    entries.set(rel, entryOf(st));
    if (entries.size > maxEntries) return tooMany();
    if (st.isDirectory()) pending.push(rel);
  }

  while (pending.length > 0) {
    const dir = pending.pop()!;
    if (tooDeep(dir)) {
      entries.get(dir)!.unreadable = true;
      continue;
    }
    let listed;
    try {
      listed = await listDirectoryStats(below(root, dir));
    } catch {
      entries.get(dir)!.unreadable = true;
      continue;
    }
    const prefix = dir === '' ? '' : `${dir}/`;
    for (const { name, raw, stats } of listed) {
      if (raw !== undefined) {
        const shown = `${prefix}${name}`;
        entries.set(`${shown}\0${raw.toString('hex')}`, { ...entryOf(stats), odd: { dir, raw, shown } });
      } else {
        const rel = `${prefix}${name}`;
        if (exclude.has(rel)) continue;
        entries.set(rel, entryOf(stats));
        if (stats.isDirectory()) pending.push(rel);
      }
      if (entries.size > maxEntries) return tooMany();
    }
  }
  return {
    ok: true,
    snapshot: { workspace, areas: roots, excluded: [...exclude], entries },
  };
}

/** The areas a plan lets a command change: its writable paths, without the read-only and hidden ones inside. */
export function snapshotPlan(root: CheckedPath, plan: SandboxPlan, maxEntries?: number): Promise<SnapshotResult> {
  const exclude = [...plan.readOnly, ...plan.hidden.map((h) => h.path)];
  return snapshotAreas(root, plan.writable, maxEntries === undefined ? { exclude } : { exclude, maxEntries });
}

function changed(a: SnapshotEntry, b: SnapshotEntry): boolean {
  if (a.type !== b.type || a.mode !== b.mode || a.dev !== b.dev || a.ino !== b.ino) return true;
  // A directory's size and times change with its entries, which are compared themselves.
  if (a.type === 'dir') return false;
  return a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.ctimeNs !== b.ctimeNs;
}

/** Created, modified and deleted paths between two snapshots of the same areas, each list sorted. */
export function diffSnapshots(before: Snapshot, after: Snapshot): SnapshotDiff {
  const unreadable = [...after.entries].filter(([, e]) => e.unreadable).map(([p]) => p);
  const belowUnreadable = (p: string) => unreadable.some((dir) => (dir === '' ? p !== '' : p.startsWith(`${dir}/`)));
  const created: string[] = [];
  const modified: string[] = [];
  const deleted: string[] = [];
  for (const [p, entry] of after.entries) {
    const old = before.entries.get(p);
    if (old === undefined) created.push(p);
    else if (changed(old, entry)) modified.push(p);
  }
  for (const p of before.entries.keys()) {
    // Not listed afterwards because its directory could not be read is not the same as deleted.
    if (!after.entries.has(p) && !belowUnreadable(p)) deleted.push(p);
  }
  return { created: created.sort(), modified: modified.sort(), deleted: deleted.sort(), unreadable: unreadable.sort() };
}
