// Directory walk shared by list_files and search_files: sorted, depth first,
// never through a symlink, without the tool-private and vendored trees, and
// without entries the session may not read (their names are not revealed).
// Every directory is listed through the authority (capabilities/fs/authority.ts).

import { MAX_PATH_BYTES, MAX_PATH_COMPONENTS } from '../../policy/canonical.js';
import type { AuthorizedPath } from '../capability.js';
import { listDirectory, type EntryKind } from './authority.js';

/** Never listed or searched: VCS internals, dependencies, choragen's own records. */
export const SKIPPED_NAMES: ReadonlySet<string> = new Set(['.git', 'node_modules', '.choragen']);

export type { EntryKind };

export interface WalkEntry {
  /** workspace-relative, `/`-separated */
  rel: string;
  path: AuthorizedPath;
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

/** Deeper or longer than any path a tool accepts: not walked into (a tool could not name it anyway). */
export function tooDeep(rel: string): boolean {
  return rel.length > MAX_PATH_BYTES || rel.split('/').length >= MAX_PATH_COMPONENTS;
}

/**
 * Entries below the directory `dir`, siblings in code-unit order, each
 * directory followed by its content when recursive. An unreadable
 * subdirectory is skipped.
 */
export async function* walk(dir: AuthorizedPath, options: WalkOptions): AsyncGenerator<WalkEntry> {
  options.signal?.throwIfAborted();
  let entries;
  try {
    entries = await listDirectory(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (SKIPPED_NAMES.has(entry.name)) continue;
    const child = dir.child(entry.name);
    if (!options.canRead(child.rel)) continue;
    yield { rel: child.rel, path: child, kind: entry.kind };
    // Kinds come from lstat semantics: a symlink to a directory is 'symlink', never descended.
    if (options.recursive && entry.kind === 'dir' && !tooDeep(child.rel)) yield* walk(child, options);
  }
}
