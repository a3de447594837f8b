// Directory walk shared by list_files and search_files: sorted, depth first,
// never through a symlink, without the tool-private and vendored trees, and
// without entries the session may not read (their names are not revealed).

import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';

/** Never listed or searched: VCS internals, dependencies, choragen's own records. */
export const SKIPPED_NAMES: ReadonlySet<string> = new Set(['.git', 'node_modules', '.choragen']);

export type EntryKind = 'dir' | 'file' | 'symlink' | 'other';

export interface WalkEntry {
  /** workspace-relative, `/`-separated */
  rel: string;
  abs: string;
  kind: EntryKind;
}

export interface WalkOptions {
  recursive: boolean;
  canRead(rel: string): boolean;
  signal?: AbortSignal;
}

export function joinRel(base: string, name: string): string {
  return base === '' || base === '.' ? name : `${base}/${name}`;
}

function kindOf(entry: Dirent): EntryKind {
  if (entry.isSymbolicLink()) return 'symlink';
  if (entry.isDirectory()) return 'dir';
  if (entry.isFile()) return 'file';
  return 'other';
}

/**
 * Entries below the directory `abs` (whose canonical relative path is `rel`),
 * siblings in code-unit order, each directory followed by its content when
 * recursive. An unreadable subdirectory is skipped.
 */
export async function* walk(abs: string, rel: string, options: WalkOptions): AsyncGenerator<WalkEntry> {
  options.signal?.throwIfAborted();
  let entries: Dirent[];
  try {
    entries = await fsp.readdir(abs, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  for (const entry of entries) {
    if (SKIPPED_NAMES.has(entry.name)) continue;
    const childRel = joinRel(rel, entry.name);
    if (!options.canRead(childRel)) continue;
    const child: WalkEntry = { rel: childRel, abs: path.join(abs, entry.name), kind: kindOf(entry) };
    yield child;
    // Dirent kinds come from lstat semantics: a symlink to a directory is 'symlink', never descended.
    if (options.recursive && child.kind === 'dir') yield* walk(child.abs, child.rel, options);
  }
}
