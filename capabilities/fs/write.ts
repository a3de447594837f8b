// Writing for the file tools, on paths that came back from ctx.authorize
// only, through the authority (capabilities/fs/authority.ts): no symlink
// followed at any component, no write through a hard link, a create never
// overwrites a file that appeared after the check.

import { ToolFailure } from '../../policy/errors.js';
import type { AuthorizedPath } from '../capability.js';
import { createFile, entryStats, makeParentDirectories, openForChange, rewrite as rewriteHandle, type OpenedFile } from './authority.js';
import { symlinkRefusal } from './errors.js';
import type { FileHandle } from 'node:fs/promises';

/** Create the missing parent directories of `target` one at a time, refusing any that is (or became) a symlink. */
export async function ensureParentDirs(target: AuthorizedPath): Promise<void> {
  await makeParentDirectories(target);
}

/**
 * Write `content` to `target` without following a symlink. A target that did
 * not exist at the check is created exclusively (the decision was `create`:
 * never overwrite a file that appeared since); one that existed is replaced
 * in place (the decision was `modify`).
 */
export async function writeFileNoFollow(target: AuthorizedPath, content: string): Promise<'created' | 'modified'> {
  const data = Buffer.from(content, 'utf8');
  if (!target.exists) {
    if (await createFile(target, data)) return 'created';
    if (entryStats(target)?.isSymbolicLink()) throw symlinkRefusal(target.rel);
    throw new ToolFailure(`${target.rel} was created by someone else after the check; read it, then write again`);
  }
  if (entryStats(target) === null) throw new ToolFailure(`${target.rel} was deleted after the check; write again to create it`);
  const { handle } = await openForChange(target, 'write');
  try {
    await rewriteHandle(target, handle, data);
  } finally {
    await handle.close();
  }
  return 'modified';
}

/**
 * Open an existing file for an in-place edit (no symlink, no hard link,
 * regular file). Returns the handle, open read-write; the caller closes it.
 */
export function openForEdit(target: AuthorizedPath): Promise<OpenedFile> {
  return openForChange(target, 'edit');
}

/** Replace the whole content of `target`, open as `handle`. */
export async function rewrite(target: AuthorizedPath, handle: FileHandle, content: string): Promise<number> {
  const data = Buffer.from(content, 'utf8');
  await rewriteHandle(target, handle, data);
  return data.length;
}
