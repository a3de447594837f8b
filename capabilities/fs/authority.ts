// The one authority path (DESIGN.md §1). Every byte a tool reads, lists,
// searches, diffs or writes in the workspace, the task store's files and
// git's view of the working tree go through this module, and it accepts only
// CheckedPaths (policy/canonical makes them; nothing else can).
//
// How a path is reached without following a link:
// - the last component is opened with O_NOFOLLOW, after an lstat that keeps
//   anything but a regular file or a directory (FIFO, device, socket) from
//   ever being opened;
// - the opened handle is re-checked: still the device and inode the lstat
//   saw, a regular file with one link (a hard link's other name may be
//   outside the workspace: reads are refused too) or a directory, on the
//   workspace's device, and, on Linux, the kernel's own name for it
//   (/proc/self/fd/N) is the checked path: a symlinked intermediate swapped in
//   after the check shows up there as another path;
// - a change (create, mkdir, unlink, rename) is made through a handle on the
//   parent directory, re-checked the same way first (/proc/self/fd/P/name:
//   openat() semantics Node lacks), so it lands in the checked directory or
//   nowhere.
// Without /proc (macOS), the re-check compares the realpath instead; a parent
// swapped between that check and the change cannot be excluded there.

import { closeSync, constants, fstatSync, lstatSync, openSync, promises as fsp, readlinkSync, readSync, realpathSync, statSync, type BigIntStats, type Dirent } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { CheckedPath } from '../../policy/canonical.js';
import { foldCase, workspaceFoldsCase } from '../../policy/case-folding.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import { errnoCode, fsError, symlinkRefusal } from './errors.js';
import { displayPath } from './output.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;
const O_NOCTTY = constants.O_NOCTTY ?? 0;
const READ_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** Linux: the kernel names every open handle under /proc/self/fd. */
const PROC_FD = (() => {
  if (process.platform !== 'linux') return false;
  try {
    const fd = openSync('/', DIR_FLAGS);
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === '/';
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
})();

function requireChecked(p: CheckedPath): void {
  // Types keep look-alikes out at compile time; this keeps them out at run time.
  if (!CheckedPath.is(p)) throw new TypeError('the filesystem authority takes CheckedPaths only');
}

const rootDevices = new Map<string, bigint>();

function rootDevice(root: string): bigint {
  let dev = rootDevices.get(root);
  if (dev === undefined) rootDevices.set(root, (dev = statSync(root, { bigint: true }).dev));
  return dev;
}

// --- re-checks ----------------------------------------------------------------

export function hardLinkRefusal(rel: string, links: bigint | number): ToolRefusal {
  return new ToolRefusal(
    `${displayPath(rel)} has ${links} hard links; it is not read or written through a link (its other name may be outside the workspace)`,
    'deny', null, rel,
  );
}

function movedRefusal(rel: string): ToolRefusal {
  return new ToolRefusal(`${displayPath(rel)} moved or was reached through a symlink after the check; it is not followed`, 'deny', null, rel);
}

/** What an open is for: a file to read, a file to change, or a directory. */
type Want = 'read' | 'file' | 'dir';

/** What an lstat says about an entry before it is opened: refusals for anything not to be opened. */
function admit(stats: BigIntStats, p: CheckedPath, want: Want): void {
  if (stats.isSymbolicLink()) throw symlinkRefusal(p.rel);
  if (stats.isDirectory()) {
    if (want === 'read') throw new ToolFailure(`${displayPath(p.rel)} is a directory; use list_files to see its entries`);
    if (want === 'file') throw new ToolFailure(`${displayPath(p.rel)} is a directory`);
    return;
  }
  if (!stats.isFile()) throw new ToolFailure(`${displayPath(p.rel)} is not a regular file`);
  if (want === 'dir') throw new ToolFailure(`${displayPath(p.rel)} is not a directory`);
  if (stats.nlink > 1n) throw hardLinkRefusal(p.rel, stats.nlink);
}

/**
 * The checks on an opened handle. `before`: the lstat taken before the open
 * (same device and inode). `pinned`: reached through a re-checked parent
 * handle, so only the last component was looked up (no name check needed).
 */
function recheck(fd: number, p: CheckedPath, want: Want, before: BigIntStats | null, pinned: boolean): BigIntStats {
  const stats = fstatSync(fd, { bigint: true });
  admit(stats, p, want);
  if (before && (before.dev !== stats.dev || before.ino !== stats.ino)) throw movedRefusal(p.rel);
  if (stats.dev !== rootDevice(p.root)) {
    throw new ToolRefusal(`${displayPath(p.rel)} is on another filesystem mounted inside the workspace; it is not followed`, 'deny', null, p.rel);
  }
  if (!pinned && !isWhereExpected(fd, p, stats)) throw movedRefusal(p.rel);
  return stats;
}

/**
 * The same path, as the filesystem compares names: on a case-folding
 * workspace the kernel names an entry as it was created (`src`), where the
 * checked path keeps the model's spelling (`SRC`).
 */
function samePath(actual: string, expected: string, root: string): boolean {
  return actual === expected || (workspaceFoldsCase(root) && foldCase(actual) === foldCase(expected));
}

function isWhereExpected(fd: number, p: CheckedPath, stats: BigIntStats): boolean {
  const abs = p.abs;
  if (PROC_FD) {
    try {
      return samePath(readlinkSync(`/proc/self/fd/${fd}`), abs, p.root);
    } catch {
      return false;
    }
  }
  try {
    if (!samePath(realpathSync.native(abs), abs, p.root)) return false;
    const now = lstatSync(abs, { bigint: true });
    return now.dev === stats.dev && now.ino === stats.ino;
  } catch {
    return false;
  }
}

// --- directories as handles ---------------------------------------------------

/** An open, re-checked directory; `ref` names it for path calls that must land inside it. */
interface PinnedDir {
  fd: number;
  /** `/proc/self/fd/N` on Linux (resolves to this very directory), else its absolute path */
  ref: string;
}

function openPinnedDir(p: CheckedPath): PinnedDir;
function openPinnedDir(p: CheckedPath, missing: 'null'): PinnedDir | null;
function openPinnedDir(p: CheckedPath, missing?: 'null'): PinnedDir | null {
  let fd: number;
  try {
    fd = openSync(p.abs, DIR_FLAGS);
  } catch (err) {
    if (missing && errnoCode(err) === 'ENOENT') return null;
    throw componentError(err, p);
  }
  try {
    recheck(fd, p, 'dir', null, false);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return { fd, ref: PROC_FD ? `/proc/self/fd/${fd}` : p.abs };
}

/** An open() of a directory failed: say which, without a host path. */
function componentError(err: unknown, p: CheckedPath): Error {
  const code = errnoCode(err);
  if (code === 'ELOOP' || code === 'ENOTDIR') {
    // The directory itself, or a component on the way, is a symlink or not a directory.
    try {
      if (lstatSync(p.abs).isSymbolicLink()) return symlinkRefusal(p.rel);
    } catch {
      // a component further up
    }
    return new ToolRefusal(`${displayPath(p.rel)} goes through a symlink or a file; it is not followed`, 'deny', null, p.rel);
  }
  return fsError(err, p.rel, 'opening');
}

/** Run `effect` with the parent of `p` open and re-checked: `at` names `p` inside it. */
async function inParent<T>(p: CheckedPath, doing: string, effect: (at: string) => Promise<T>): Promise<T> {
  const parent = p.parent();
  if (parent === null) throw new ToolFailure(`cannot ${doing} the workspace root`);
  const dir = openPinnedDir(parent);
  try {
    return await effect(`${dir.ref}/${p.name}`);
  } finally {
    closeSync(dir.fd);
  }
}

// --- reading ------------------------------------------------------------------

function lstatEntry(abs: string): BigIntStats | null {
  try {
    return lstatSync(abs, { bigint: true });
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * The entry itself (an lstat, not followed), or null when it does not exist.
 * Refuses when a directory on the way is a symlink (it was not one at the check).
 */
export function entryStats(p: CheckedPath): BigIntStats | null {
  requireChecked(p);
  const parent = p.parent();
  if (parent === null) return lstatEntry(p.abs);
  const dir = openPinnedDir(parent, 'null');
  if (dir === null) return null;
  try {
    return lstatEntry(`${dir.ref}/${p.name}`);
  } catch (err) {
    throw fsError(err, p.rel, 'reading');
  } finally {
    closeSync(dir.fd);
  }
}

export interface OpenedFile {
  handle: FileHandle;
  size: number;
  /** fstat of the handle, taken at open: the version of what will be read (see ToolContext.observed) */
  stats: BigIntStats;
}

/** Open a regular file for reading (see the module comment for every check). The caller closes it. */
export async function openFile(p: CheckedPath): Promise<OpenedFile> {
  requireChecked(p);
  let before: BigIntStats | null;
  let handle: FileHandle;
  try {
    before = lstatEntry(p.abs);
    if (before === null) throw new ToolFailure(`no such file: ${displayPath(p.rel)}`);
    admit(before, p, 'read');
    handle = await fsp.open(p.abs, READ_FLAGS);
  } catch (err) {
    throw fsError(err, p.rel, 'reading');
  }
  try {
    const stats = recheck(handle.fd, p, 'read', before, false);
    return { handle, size: Number(stats.size), stats };
  } catch (err) {
    await handle.close();
    throw fsError(err, p.rel, 'reading');
  }
}

/**
 * A small file, whole, read synchronously with the checks of `openFile`: a
 * few microseconds on the broker's thread instead of a thread-pool round trip
 * per call. Null when the file is larger than `maxBytes` (use `openFile`).
 */
export function readSmallSync(p: CheckedPath, maxBytes: number): { whole: Buffer; stats: BigIntStats } | null {
  requireChecked(p);
  let fd: number;
  let before: BigIntStats | null;
  try {
    before = lstatEntry(p.abs);
    if (before === null) throw new ToolFailure(`no such file: ${displayPath(p.rel)}`);
    admit(before, p, 'read');
    fd = openSync(p.abs, READ_FLAGS);
  } catch (err) {
    throw fsError(err, p.rel, 'reading');
  }
  try {
    const stats = recheck(fd, p, 'read', before, false);
    const size = Number(stats.size);
    if (size > maxBytes) return null;
    const buffer = Buffer.allocUnsafe(size); // only the bytes read are returned
    let read = 0;
    while (read < size) {
      const n = readSync(fd, buffer, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    return { whole: buffer.subarray(0, read), stats };
  } catch (err) {
    throw fsError(err, p.rel, 'reading');
  } finally {
    closeSync(fd);
  }
}

/** Files up to this size are read with one synchronous call by `readWhole`. */
const SMALL_READ_BYTES = 1024 * 1024;

/** A whole file, with the checks of `openFile`. */
export async function readWhole(p: CheckedPath): Promise<Buffer> {
  const small = readSmallSync(p, SMALL_READ_BYTES);
  if (small !== null) return small.whole;
  const { handle, size } = await openFile(p);
  try {
    return await readAll(handle, size);
  } finally {
    await handle.close();
  }
}

/**
 * Up to `size` bytes of an open file from its start, in as few reads as the OS
 * allows. Shorter if the file shrank since `size` was taken; bytes appended
 * since are not read, so the content matches the stats `size` came from.
 */
export async function readAll(handle: FileHandle, size: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(size); // only the bytes read are returned
  let read = 0;
  while (read < size) {
    const { bytesRead } = await handle.read(buffer, read, size - read, read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  return buffer.subarray(0, read);
}


/** The target text of a symlink (git stores it as the link's content); never followed. */
export async function readLinkText(p: CheckedPath): Promise<string> {
  requireChecked(p);
  return inParent(p, 'read', async (at) => {
    try {
      return await fsp.readlink(at);
    } catch (err) {
      throw fsError(err, p.rel, 'reading');
    }
  });
}

export type EntryKind = 'dir' | 'file' | 'symlink' | 'other';

export interface DirEntry {
  name: string;
  kind: EntryKind;
}

function kindOf(entry: Dirent): EntryKind {
  if (entry.isSymbolicLink()) return 'symlink';
  if (entry.isDirectory()) return 'dir';
  if (entry.isFile()) return 'file';
  return 'other';
}

/** The entries of a directory, in code-unit order (kinds as lstat sees them: a symlink is 'symlink'). */
export async function listDirectory(p: CheckedPath): Promise<DirEntry[]> {
  requireChecked(p);
  const dir = openPinnedDir(p);
  try {
    const entries = await fsp.readdir(dir.ref, { withFileTypes: true });
    return entries
      .map((e) => ({ name: e.name, kind: kindOf(e) }))
      .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  } catch (err) {
    throw fsError(err, p.rel, 'listing');
  } finally {
    closeSync(dir.fd);
  }
}

// --- changing -----------------------------------------------------------------

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  await handle.truncate(0);
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, written);
    written += bytesWritten;
  }
}

/** Create `p` with `data`; false when something already exists there (never overwritten, never followed). */
export async function createFile(p: CheckedPath, data: Buffer): Promise<boolean> {
  requireChecked(p);
  return inParent(p, 'create', async (at) => {
    let handle: FileHandle;
    try {
      handle = await fsp.open(at, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0o666);
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return false;
      throw fsError(err, p.rel, 'writing');
    }
    try {
      recheck(handle.fd, p, 'file', null, true);
      await writeAll(handle, data);
      return true;
    } catch (err) {
      throw fsError(err, p.rel, 'writing');
    } finally {
      await handle.close();
    }
  });
}

/**
 * Open an existing regular file with one link for writing (`mode` 'write')
 * or reading and writing ('edit'). The caller closes it.
 */
export async function openForChange(p: CheckedPath, mode: 'write' | 'edit'): Promise<OpenedFile> {
  requireChecked(p);
  const doing = mode === 'edit' ? 'editing' : 'writing';
  return inParent(p, doing, async (at) => {
    let handle: FileHandle;
    try {
      const before = lstatEntry(at);
      if (before === null) throw new ToolFailure(`no such file: ${displayPath(p.rel)}`);
      admit(before, p, 'file');
      handle = await fsp.open(at, (mode === 'edit' ? O_RDWR : O_WRONLY) | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
      try {
        const stats = recheck(handle.fd, p, 'file', before, true);
        return { handle, size: Number(stats.size), stats };
      } catch (err) {
        await handle.close();
        throw err;
      }
    } catch (err) {
      throw fsError(err, p.rel, doing);
    }
  });
}

/** Replace the whole content of a file opened by `openForChange`. */
export async function rewrite(handle: FileHandle, data: Buffer): Promise<void> {
  await writeAll(handle, data);
}

/** Make the directory `p` (one level) unless it is one already; refuses a symlink or a file there. */
export async function makeDirectory(p: CheckedPath): Promise<void> {
  requireChecked(p);
  await inParent(p, 'create', async (at) => {
    try {
      await fsp.mkdir(at); // never follows a symlink at `at`: EEXIST instead
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw fsError(err, p.rel, 'creating directory');
    }
    const stats = lstatEntry(at);
    if (stats === null) throw new ToolFailure(`${displayPath(p.rel)} vanished while it was created`);
    if (stats.isSymbolicLink()) throw symlinkRefusal(p.rel);
    if (!stats.isDirectory()) throw new ToolFailure(`${displayPath(p.rel)} is not a directory`);
  });
}

/** Make every missing directory above `p`, one level at a time. */
export async function makeParentDirectories(p: CheckedPath): Promise<void> {
  const chain: CheckedPath[] = [];
  for (let dir = p.parent(); dir !== null && dir.rel !== '.'; dir = dir.parent()) chain.push(dir);
  for (const dir of chain.reverse()) await makeDirectory(dir);
}

/** Remove the regular file `p` (a symlink or a directory there is refused). */
export async function removeFile(p: CheckedPath): Promise<void> {
  requireChecked(p);
  await inParent(p, 'delete', async (at) => {
    try {
      const stats = lstatEntry(at);
      if (stats === null) throw new ToolFailure(`no such file: ${displayPath(p.rel)}`);
      if (stats.isSymbolicLink()) throw symlinkRefusal(p.rel);
      if (stats.isDirectory()) throw new ToolFailure(`${displayPath(p.rel)} is a directory; only files are deleted`);
      await fsp.unlink(at); // unlink never follows a symlink
    } catch (err) {
      throw fsError(err, p.rel, 'deleting');
    }
  });
}

/** Rename the regular file `from` to `to`, which must not exist; both parents are re-checked handles. */
export async function renameFile(from: CheckedPath, to: CheckedPath): Promise<void> {
  requireChecked(from);
  requireChecked(to);
  await inParent(from, 'move', (fromAt) =>
    inParent(to, 'move', async (toAt) => {
      try {
        const stats = lstatEntry(fromAt);
        if (stats === null) throw new ToolFailure(`no such file: ${displayPath(from.rel)}`);
        if (stats.isSymbolicLink()) throw symlinkRefusal(from.rel);
        if (stats.isDirectory()) throw new ToolFailure(`${displayPath(from.rel)} is a directory; only files are moved`);
        if (lstatEntry(toAt) !== null) throw new ToolFailure(`${displayPath(to.rel)} already exists; it is not overwritten`);
        // rename acts on the entries themselves: it never follows a symlink at either end.
        await fsp.rename(fromAt, toAt);
      } catch (err) {
        throw fsError(err, from.rel, 'moving');
      }
    }),
  );
}
