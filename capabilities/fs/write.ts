// Writing for the file tools, on paths that came back from ctx.authorize
// only: no symlink followed at any component, no write through a hard link,
// a create never overwrites a file that appeared after the check.

import { constants, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import type { AuthorizedPath } from '../capability.js';
import { errnoCode, fsError, symlinkRefusal } from './errors.js';
import { displayPath } from './output.js';
import { lstatOrNull, type OpenFile } from './read.js';

const { O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

/**
 * Create the missing parent directories of `target` one at a time, refusing
 * any component that is (or became) a symlink. Components are derived from the
 * canonical `target.rel`, below the workspace root.
 */
export async function ensureParentDirs(target: AuthorizedPath): Promise<void> {
  const parts = target.rel.split('/');
  let dir = target.abs;
  for (let i = 0; i < parts.length; i += 1) dir = path.dirname(dir);
  let rel = '';
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    rel = rel === '' ? part : `${rel}/${part}`;
    try {
      let stats = await lstatOrNull(dir);
      if (stats === null) {
        try {
          await fsp.mkdir(dir); // never follows a symlink at `dir`: EEXIST instead
        } catch (err) {
          if (errnoCode(err) !== 'EEXIST') throw err;
        }
        stats = await fsp.lstat(dir);
      }
      if (stats.isSymbolicLink()) throw symlinkRefusal(rel);
      if (!stats.isDirectory()) throw new ToolFailure(`${rel} is not a directory`);
    } catch (err) {
      throw fsError(err, rel, 'creating directory');
    }
  }
}

/** Refuse to write through a hard link: its other name may be outside the workspace. */
async function checkWritable(handle: FileHandle, rel: string): Promise<Stats> {
  const stats = await handle.stat();
  if (stats.isDirectory()) throw new ToolFailure(`${displayPath(rel)} is a directory`);
  if (!stats.isFile()) throw new ToolFailure(`${displayPath(rel)} is not a regular file`);
  if (stats.nlink > 1) {
    throw new ToolRefusal(`${rel} has ${stats.nlink} hard links; writing through a hard link is refused`, 'deny', null, rel);
  }
  return stats;
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  await handle.truncate(0);
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, written);
    written += bytesWritten;
  }
}

/**
 * Write `content` to `target` without following a symlink at the last
 * component. A target that did not exist at the check is created exclusively
 * (the decision was `create`: never overwrite a file that appeared since); one
 * that existed is opened without O_CREAT (the decision was `modify`).
 */
export async function writeFileNoFollow(target: AuthorizedPath, content: string): Promise<'created' | 'modified'> {
  const data = Buffer.from(content, 'utf8');
  const flags = target.exists
    ? O_WRONLY | O_NOFOLLOW | O_NONBLOCK
    : O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK;
  let handle: FileHandle;
  try {
    handle = await fsp.open(target.abs, flags, 0o666);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') {
      const stats = await lstatOrNull(target.abs);
      if (stats?.isSymbolicLink()) throw symlinkRefusal(target.rel);
      throw new ToolFailure(`${target.rel} was created by someone else after the check; read it, then write again`);
    }
    if (code === 'ENOENT' && target.exists) {
      throw new ToolFailure(`${target.rel} was deleted after the check; write again to create it`);
    }
    throw fsError(err, target.rel, 'writing');
  }
  try {
    if (target.exists) await checkWritable(handle, target.rel);
    await writeAll(handle, data);
  } catch (err) {
    throw fsError(err, target.rel, 'writing');
  } finally {
    await handle.close();
  }
  return target.exists ? 'modified' : 'created';
}

/**
 * Open an existing file for an in-place edit (no symlink, no hard link,
 * regular file). Returns the handle, open read-write; the caller closes it.
 */
export async function openForEdit(target: AuthorizedPath): Promise<OpenFile> {
  let handle: FileHandle;
  try {
    handle = await fsp.open(target.abs, O_RDWR | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    throw fsError(err, target.rel, 'editing');
  }
  try {
    const stats = await checkWritable(handle, target.rel);
    return { handle, size: stats.size };
  } catch (err) {
    await handle.close();
    throw fsError(err, target.rel, 'editing');
  }
}

/** Replace the whole content of an open file. */
export async function rewrite(handle: FileHandle, content: string): Promise<number> {
  const data = Buffer.from(content, 'utf8');
  await writeAll(handle, data);
  return data.length;
}

/** Read a whole open file; null if it is not valid UTF-8 (a BOM is kept as is). */
