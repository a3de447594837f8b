// Removing what a command left behind, without following symlinks: a created
// path the policy does not allow, and the per-command scratch directory.
// A command may leave directories it made unreadable (chmod 000) or deep
// trees; both are handled, and nothing here ever steps through a symlink.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode } from './errno.js';


/**
 * Deletes `abs` and, for a directory, everything below it. Symlinks are
 * unlinked, never followed; a directory without owner rwx gets it first so a
 * non-root broker can empty it. Returns false when `abs` did not exist.
 */
export async function removeTree(abs: string): Promise<boolean> {
  let st;
  try {
    st = await fsp.lstat(abs);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
  if (!st.isDirectory()) {
    await fsp.unlink(abs);
    return true;
  }
  // chmod follows symlinks, but lstat just said this is a directory, and the
  // sandbox that could swap it is gone by the time anything is removed.
  if ((st.mode & 0o700) !== 0o700) await fsp.chmod(abs, (st.mode & 0o7777) | 0o700);
  for (const name of await fsp.readdir(abs)) await removeTree(path.join(abs, name));
  await fsp.rmdir(abs);
  return true;
}

export type RemoveOutcome = { removed: true } | { removed: false; reason: string };

/**
 * Removes the created path `rel` (workspace-relative, as a snapshot diff
 * lists it) from `workspace`. Refuses, with a reason, a path that is not a
 * plain relative path or whose parent directories are not all real
 * directories inside the workspace, so a symlink planted on the way can never
 * redirect the removal outside.
 */
export async function removeCreated(workspace: string, rel: string): Promise<RemoveOutcome> {
  const parts = rel.split('/');
  if (rel === '' || rel.includes('\0') || path.isAbsolute(rel) || parts.some((p) => p === '' || p === '.' || p === '..')) {
    return { removed: false, reason: `not a plain workspace-relative path: ${JSON.stringify(rel)}` };
  }
  const parent = path.join(workspace, ...parts.slice(0, -1));
  let realParent: string;
  try {
    realParent = await fsp.realpath(parent);
  } catch (err) {
    return { removed: false, reason: `${rel}: parent directory unreadable (${errnoCode(err)})` };
  }
  if (realParent !== parent) return { removed: false, reason: `${rel}: a parent directory is a symlink` };
  try {
    const existed = await removeTree(path.join(parent, parts[parts.length - 1]!));
    return existed ? { removed: true } : { removed: false, reason: `${rel}: no longer exists` };
  } catch (err) {
    return { removed: false, reason: `${rel}: could not be removed (${errnoCode(err)})` };
  }
}
