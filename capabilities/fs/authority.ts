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
//
// run_command's plan and after-run check reach a command's leftovers the same
// way: listings that lstat each entry (a name that is not valid UTF-8 comes
// back as bytes, never as a path), modes set on an O_PATH handle re-checked to
// be the entry the lstat saw, and trees removed by descending through
// re-checked handles, so no symlink planted or swapped in is ever followed
// and no depth or path length stops a removal.

import {
  chmodSync, closeSync, constants, fstatSync, lstatSync, openSync, promises as fsp, readlinkSync, readSync, realpathSync, rmdirSync, statSync, unlinkSync,
  type BigIntStats, type Dirent,
} from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FileHandle } from 'node:fs/promises';
import { CheckedPath } from '../../policy/canonical.js';
import { foldCase, workspaceFoldsCase } from '../../policy/case-folding.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import { errnoCode, fsError, symlinkRefusal } from './errors.js';
import { displayPath, displayRawName } from './output.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;
const O_NOCTTY = constants.O_NOCTTY ?? 0;
const READ_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
/**
 * Linux's O_PATH (the asm-generic value, used by every architecture Node runs
 * on; Node does not export it): a handle on the entry itself that needs no
 * permission on it and, with O_NOFOLLOW, is a symlink's own when one is there.
 */
const O_PATH = 0o10000000;

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

function otherFilesystemRefusal(rel: string): ToolRefusal {
  return new ToolRefusal(`${displayPath(rel)} is on another filesystem mounted inside the workspace; it is not followed`, 'deny', null, rel);
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
  if (stats.dev !== rootDevice(p.root)) throw otherFilesystemRefusal(p.rel);
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
  /** The name; when it is not valid UTF-8, a lossy rendering of it (see `raw`). */
  name: string;
  kind: EntryKind;
  /** Only for a name that is not valid UTF-8: its bytes. No CheckedPath can name such an entry. */
  raw?: Buffer;
}

/** `{ name }`, plus `raw` when the bytes are not valid UTF-8 (decoding replaced some with U+FFFD). */
function nameOf(raw: Buffer): { name: string; raw?: Buffer } {
  const name = raw.toString('utf8');
  return name.includes('\uFFFD') && !Buffer.from(name, 'utf8').equals(raw) ? { name: displayRawName(raw), raw } : { name };
}

function byName(x: { name: string }, y: { name: string }): number {
  return x.name < y.name ? -1 : x.name > y.name ? 1 : 0;
}

function kindOf(entry: Pick<Dirent, 'isSymbolicLink' | 'isDirectory' | 'isFile'>): EntryKind {
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
    const entries = await fsp.readdir(dir.ref, { withFileTypes: true, encoding: 'buffer' });
    return entries
      .map((e): DirEntry => ({ ...nameOf(e.name), kind: kindOf(e) }))
      .sort(byName);
  } catch (err) {
    throw fsError(err, p.rel, 'listing');
  } finally {
    closeSync(dir.fd);
  }
}

// --- changing -----------------------------------------------------------------

async function writeRange(handle: FileHandle, data: Buffer, from: number, to: number): Promise<void> {
  for (let at = from; at < to; ) at += (await handle.write(data, at, to - at, at)).bytesWritten;
}

/**
 * Replaces the file's content in place (its inode, links and mode stay). The
 * part beyond the old end is written first: a disk that fills up fails there,
 * the file is cut back to its old length, and the old content is still whole.
 * Only then are the old bytes overwritten, which takes no new space.
 */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  const old = (await handle.stat()).size;
  if (data.length > old) {
    try {
      await writeRange(handle, data, old, data.length);
    } catch (err) {
      await handle.truncate(old).catch(() => {});
      throw err;
    }
  }
  await writeRange(handle, data, 0, Math.min(old, data.length));
  if (data.length < old) await handle.truncate(data.length);
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
    let created = false;
    try {
      recheck(handle.fd, p, 'file', null, true);
      created = true;
      await writeAll(handle, data);
      return true;
    } catch (err) {
      // A file this call made but could not fill (a full disk) is not left behind half written.
      if (created) await fsp.unlink(at).catch(() => {});
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

/** Replace the whole content of file `p`, opened by `openForChange`; on a failure (a full disk) its old content stays. */
export async function rewrite(p: CheckedPath, handle: FileHandle, data: Buffer): Promise<void> {
  try {
    await writeAll(handle, data);
  } catch (err) {
    throw fsError(err, p.rel, 'writing');
  }
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

// --- a command's leftovers (run_command's plan and after-run check) ----------

export interface StatEntry {
  /** As in DirEntry: lossy when the name is not valid UTF-8, and then `raw` holds its bytes. */
  name: string;
  raw?: Buffer;
  /** An lstat: a symlink is described, never followed. */
  stats: BigIntStats;
}

/** Synchronous calls made in a row before the event loop gets a turn. */
const SYNC_BATCH = 256;
const SLASH = Buffer.from('/');
const DOTDOT = Buffer.from('..');

function join(ref: string | Buffer, name: Buffer): Buffer {
  return Buffer.concat([typeof ref === 'string' ? Buffer.from(ref) : ref, SLASH, name]);
}

/**
 * The entries of the directory `p`, each with an lstat (metadata only: no
 * entry is opened or followed), in code-unit order. An entry gone since the
 * directory was read is left out.
 */
export async function listDirectoryStats(p: CheckedPath): Promise<StatEntry[]> {
  requireChecked(p);
  const dir = openPinnedDir(p);
  try {
    const names = await fsp.readdir(dir.ref, { encoding: 'buffer' });
    const entries: StatEntry[] = [];
    for (let i = 0; i < names.length; i++) {
      if (i > 0 && i % SYNC_BATCH === 0) await yieldToLoop();
      const raw = names[i]!;
      const stats = lstatSync(join(dir.ref, raw), { bigint: true, throwIfNoEntry: false });
      if (stats !== undefined) entries.push({ ...nameOf(raw), stats });
    }
    return entries.sort(byName);
  } catch (err) {
    throw fsError(err, p.rel, 'listing');
  } finally {
    closeSync(dir.fd);
  }
}

/**
 * chmod of the entry at `at`, which an lstat has just seen as `before`. On
 * Linux it goes through an O_PATH handle re-checked to be that very entry (a
 * symlink swapped in meanwhile is refused, never followed); the handle needs
 * no permission on the entry, so a directory left mode 000 can be opened again.
 */
function chmodEntry(at: string | Buffer, before: BigIntStats, rel: string, root: string, mode: number): void {
  if (!PROC_FD) {
    chmodSync(at, mode); // the window the module comment describes
    return;
  }
  const fd = openSync(at, O_PATH | O_NOFOLLOW);
  try {
    const now = fstatSync(fd, { bigint: true });
    if (now.dev !== before.dev || now.ino !== before.ino || now.isSymbolicLink()) throw movedRefusal(rel);
    if (now.dev !== rootDevice(root)) throw otherFilesystemRefusal(rel);
    if (now.isFile() && now.nlink > 1n) throw hardLinkRefusal(rel, now.nlink);
    chmodSync(`/proc/self/fd/${fd}`, mode);
  } finally {
    closeSync(fd);
  }
}

/**
 * Set the permission bits of `p`, which must be a `kind`: a regular file with
 * one link, or a directory (the workspace root included). A symlink there is
 * refused, never followed.
 */
export async function setMode(p: CheckedPath, mode: number, kind: 'file' | 'dir'): Promise<void> {
  requireChecked(p);
  const change = (at: string) => {
    try {
      const before = lstatSync(at, { bigint: true, throwIfNoEntry: false });
      if (before === undefined) throw new ToolFailure(`no such file: ${displayPath(p.rel)}`);
      admit(before, p, kind);
      chmodEntry(at, before, p.rel, p.root, mode);
    } catch (err) {
      throw fsError(err, p.rel, 'changing the mode of');
    }
  };
  if (p.parent() === null) change(p.abs);
  else await inParent(p, 'change', async (at) => change(at));
}

/** Make `p` a symlink whose text is `target` (as readLinkText gave it); false when something is there already. */
export async function createSymlink(p: CheckedPath, target: string): Promise<boolean> {
  requireChecked(p);
  return inParent(p, 'create', async (at) => {
    try {
      await fsp.symlink(target, at); // never follows anything at `at`: EEXIST instead
      return true;
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return false;
      throw fsError(err, p.rel, 'creating link');
    }
  });
}

/**
 * Remove `p` and, when it is a directory, everything below it; false when
 * nothing is there. A symlink is unlinked, never followed; every directory is
 * entered through a handle re-checked to be the directory the lstat saw, on
 * the workspace's device, and gets owner rwx first when it lacks them. No path
 * grows with the depth, so no depth stops it.
 */
export async function removeTree(p: CheckedPath): Promise<boolean> {
  requireChecked(p);
  return inParent(p, 'remove', (at) => removeTreeAt(at, p.rel, p.root));
}

/** `removeTree` of the entry of `dir` whose name is not valid UTF-8: `raw`, from a listing. */
export async function removeRawTree(dir: CheckedPath, raw: Buffer): Promise<boolean> {
  requireChecked(dir);
  if (raw.length === 0 || raw.includes(0x2f) || raw.includes(0) || raw.equals(DOTDOT) || raw.equals(Buffer.from('.'))) {
    throw new TypeError('removeRawTree takes a name from a listing');
  }
  const rel = `${dir.rel === '.' ? '' : `${dir.rel}/`}${displayRawName(raw)}`;
  const pinned = openPinnedDir(dir);
  try {
    return await removeTreeAt(join(pinned.ref, raw), rel, dir.root);
  } finally {
    closeSync(pinned.fd);
  }
}

async function removeTreeAt(at: string | Buffer, rel: string, root: string): Promise<boolean> {
  try {
    const top = lstatSync(at, { bigint: true, throwIfNoEntry: false });
    if (top === undefined) return false;
    if (!top.isDirectory()) {
      unlinkSync(at); // unlink never follows a symlink
      return true;
    }
    await emptyDirectory(at, top, rel, root);
    rmdirSync(at);
    return true;
  } catch (err) {
    throw fsError(err, rel, 'removing');
  }
}

/** Open the directory `at`, which lstat saw as `before`, giving its owner rwx first if it lacks them. */
function openDirectoryAt(at: Buffer | string, before: BigIntStats, rel: string, root: string): number {
  const mode = Number(before.mode);
  if ((mode & 0o700) !== 0o700) chmodEntry(at, before, rel, root, (mode & 0o7777) | 0o700);
  const fd = openSync(at, DIR_FLAGS);
  try {
    const now = fstatSync(fd, { bigint: true });
    if (!now.isDirectory() || now.dev !== before.dev || now.ino !== before.ino) throw movedRefusal(rel);
    if (now.dev !== rootDevice(root)) throw otherFilesystemRefusal(rel);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

interface Level {
  dev: bigint;
  ino: bigint;
  /** Its name in the directory above. */
  name: Buffer;
  /** Entries not yet removed. */
  pending: Buffer[];
  /** Without /proc only: its path (with /proc, the open handle names it). */
  path: Buffer;
}

/**
 * Remove everything below the directory `at`, one open handle at a time:
 * going down, a child is opened through its parent's handle; coming back up,
 * the parent is opened again as the child's `..` and must be the directory
 * it was.
 */
async function emptyDirectory(at: Buffer | string, top: BigIntStats, rel: string, root: string): Promise<void> {
  let fd = openDirectoryAt(at, top, rel, root);
  const refOf = (level: Level) => (PROC_FD ? Buffer.from(`/proc/self/fd/${fd}`) : level.path);
  const above: Level[] = [];
  const start = typeof at === 'string' ? Buffer.from(at) : at;
  let here: Level = { dev: top.dev, ino: top.ino, name: start, pending: [], path: PROC_FD ? SLASH : start };
  try {
    here.pending = await fsp.readdir(refOf(here), { encoding: 'buffer' });
    for (let steps = 1; ; steps++) {
      if (steps % SYNC_BATCH === 0) await yieldToLoop();
      const name = here.pending.pop();
      if (name !== undefined) {
        const child = join(refOf(here), name);
        const stats = lstatSync(child, { bigint: true, throwIfNoEntry: false });
        if (stats === undefined) continue;
        if (!stats.isDirectory()) {
          unlinkSync(child);
          continue;
        }
        const childFd = openDirectoryAt(child, stats, rel, root);
        closeSync(fd);
        fd = childFd;
        above.push(here);
        here = { dev: stats.dev, ino: stats.ino, name, pending: [], path: PROC_FD ? SLASH : child };
        here.pending = await fsp.readdir(refOf(here), { encoding: 'buffer' });
        continue;
      }
      const parent = above.pop();
      if (parent === undefined) return;
      const parentFd = openSync(join(refOf(here), DOTDOT), DIR_FLAGS);
      try {
        const now = fstatSync(parentFd, { bigint: true });
        if (now.dev !== parent.dev || now.ino !== parent.ino) throw movedRefusal(rel);
      } catch (err) {
        closeSync(parentFd);
        throw err;
      }
      closeSync(fd);
      fd = parentFd;
      rmdirSync(join(refOf(parent), here.name));
      here = parent;
    }
  } finally {
    closeSync(fd);
  }
}
