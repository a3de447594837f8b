// What a command changed: the writable areas of a plan listed before and after
// the run (metadata only, no content), so the broker can check every created,
// modified or deleted path against the policy like a write_file. Symlinks are
// recorded, never followed. The walk is bounded by an entry cap and fails
// with a clear reason past it; a directory it cannot list is reported as
// such rather than skipped.

import { promises as fsp, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { isWithin, type SandboxPlan } from './plan.js';
import { errnoCode } from './errno.js';

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
  /** A directory the walk could not list: what is below it is unknown. */
  unreadable?: true;
}

export interface Snapshot {
  workspace: string;
  /** Workspace-relative paths of the areas walked (`` for the workspace root). */
  areas: string[];
  /** Workspace-relative paths not walked: the sandbox keeps them read-only or hidden, so they cannot change. */
  excluded: string[];
  /** Keyed by workspace-relative path. */
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

/** Entries whose lstat runs concurrently while a directory is read. */
const LSTAT_BATCH = 64;


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

/**
 * Lists `areas` (absolute paths inside `workspace`) and everything below them,
 * except the `exclude` paths and what is below those.
 */
export async function snapshotAreas(
  workspace: string,
  areas: readonly string[],
  options: { exclude?: readonly string[]; maxEntries?: number } = {},
): Promise<SnapshotResult> {
  const maxEntries = options.maxEntries ?? DEFAULT_SNAPSHOT_MAX_ENTRIES;
  const exclude = new Set(options.exclude ?? []);
  const rel = (abs: string) => path.relative(workspace, abs);
  for (const p of [...areas, ...exclude]) {
    if (!path.isAbsolute(p) || !isWithin(p, workspace)) return { ok: false, reason: `${p} is not inside the workspace` };
  }
  // An area inside another one is walked as part of it.
  const roots = [...new Set(areas)].filter((a, _, all) => !all.some((b) => b !== a && isWithin(a, b)));
  const entries = new Map<string, SnapshotEntry>();
  const tooMany = (): SnapshotResult => ({
    ok: false,
    reason:
      `the writable areas hold more than ${maxEntries} files and directories, too many to check a command's changes; ` +
      'make fewer or smaller areas writable',
  });

  const pending: string[] = [];
  for (const root of roots) {
    if (exclude.has(root)) continue;
    let st;
    try {
      st = await fsp.lstat(root, { bigint: true });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      return { ok: false, reason: `cannot read ${rel(root) || '.'} (${errnoCode(err)})` };
    }
    entries.set(rel(root), entryOf(st));
    if (entries.size > maxEntries) return tooMany();
    if (st.isDirectory()) pending.push(root);
  }

  while (pending.length > 0) {
    const dir = pending.pop()!;
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch {
      entries.get(rel(dir))!.unreadable = true;
      continue;
    }
    const children = names.map((name) => path.join(dir, name)).filter((child) => !exclude.has(child));
    for (let i = 0; i < children.length; i += LSTAT_BATCH) {
      const batch = children.slice(i, i + LSTAT_BATCH);
      const stats = await Promise.all(
        batch.map((child) =>
          fsp.lstat(child, { bigint: true }).then(
            (st) => ({ st }),
            (err: unknown) => ({ err }),
          ),
        ),
      );
      for (let j = 0; j < batch.length; j++) {
        const child = batch[j]!;
        const got = stats[j]!;
        if ('err' in got) {
          if (errnoCode(got.err) === 'ENOENT') continue; // gone since readdir: it is not there
          return { ok: false, reason: `cannot read ${rel(child)} (${errnoCode(got.err)})` };
        }
        entries.set(rel(child), entryOf(got.st));
        if (entries.size > maxEntries) return tooMany();
        if (got.st.isDirectory()) pending.push(child);
      }
    }
  }
  return {
    ok: true,
    snapshot: { workspace, areas: roots.map(rel), excluded: [...exclude].map(rel), entries },
  };
}

/** The areas a plan lets a command change: its writable paths, without the read-only and hidden ones inside. */
export function snapshotPlan(plan: SandboxPlan, maxEntries?: number): Promise<SnapshotResult> {
  const exclude = [...plan.readOnly, ...plan.hidden.map((h) => h.path)];
  return snapshotAreas(plan.workspace, plan.writable, maxEntries === undefined ? { exclude } : { exclude, maxEntries });
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
