// The filesystem isomorphic-git is given. Git's own directory (objects,
// index, refs, config) is used as it is: git's records, never shown raw, and
// no session can write them (policy/protected-paths.ts). The working tree,
// which any session may have planted things in, is reached only through the
// filesystem authority (fs/authority.ts): a symlink is read as a link and
// never followed, a folder replaced by a symlink is not entered, a hard link
// or a FIFO is not read. Nothing outside the workspace's part of the working
// tree is visible, and the working tree is never written through here.

import fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import { type CheckedPath, isInside } from '../../policy/canonical.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import { entryStats, listDirectory, readLinkText, readWhole } from '../fs/authority.js';
import type { GitRepo } from './repo.js';

/** What a working-tree file that may not be read hashes as: git sees it as changed, its content stays unread. */
const UNREAD = Buffer.from('\0choragen: this file is not read (a hard link, or not a regular file)\0\n');

function errno(code: string, abs: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: ${path.basename(abs)}`) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}

/** Node's Stats shape, as isomorphic-git reads it, from an authority lstat (nanoseconds kept exact). */
function plainStats(s: BigIntStats) {
  const seconds = (ns: bigint) => Number(ns / 1_000_000_000n);
  const nanos = (ns: bigint) => Number(ns % 1_000_000_000n);
  return {
    dev: Number(s.dev), ino: Number(s.ino), mode: Number(s.mode), nlink: Number(s.nlink), uid: Number(s.uid), gid: Number(s.gid),
    size: Number(s.size),
    ctimeSeconds: seconds(s.ctimeNs), ctimeNanoseconds: nanos(s.ctimeNs), ctimeMs: Number(s.ctimeNs) / 1e6,
    mtimeSeconds: seconds(s.mtimeNs), mtimeNanoseconds: nanos(s.mtimeNs), mtimeMs: Number(s.mtimeNs) / 1e6,
    isFile: () => s.isFile(), isDirectory: () => s.isDirectory(), isSymbolicLink: () => s.isSymbolicLink(),
  };
}

type Place = { kind: 'git' } | { kind: 'work'; path: CheckedPath } | { kind: 'ancestor'; next: string } | { kind: 'gitignore' } | { kind: 'none' };

/** The git directories of `repo`: `.git`, and where a `.git` file (a linked worktree) points. */
function gitDirs(repo: GitRepo): string[] {
  const dotGit = path.join(repo.root, '.git');
  const dirs = [dotGit];
  try {
    const text = fs.readFileSync(dotGit, 'utf8');
    const m = /^gitdir: (.+)$/m.exec(text);
    if (m) {
      const gitdir = path.resolve(repo.root, m[1]!.trim());
      dirs.push(gitdir);
      const common = fs.readFileSync(path.join(gitdir, 'commondir'), 'utf8').trim();
      dirs.push(path.resolve(gitdir, common));
    }
  } catch {
    // a .git directory (the usual case), or no commondir
  }
  return dirs;
}

/** An isomorphic-git `fs` for `repo`, whose working tree is seen only below `workspace`. */
export function worktreeFs(repo: GitRepo, workspace: CheckedPath) {
  const gits = gitDirs(repo);

  function place(given: string): Place {
    const abs = path.resolve(given);
    if (gits.some((dir) => isInside(dir, abs))) return { kind: 'git' };
    if (isInside(workspace.abs, abs)) {
      const rel = path.relative(workspace.abs, abs).split(path.sep).join('/');
      try {
        return { kind: 'work', path: workspace.descend(rel) };
      } catch {
        return { kind: 'none' };
      }
    }
    // Between the repository root and the workspace: only the way down, and the .gitignore files there.
    if (isInside(repo.root, abs)) {
      if (isInside(abs, workspace.abs)) return { kind: 'ancestor', next: path.relative(abs, workspace.abs).split(path.sep)[0]! };
      if (path.basename(abs) === '.gitignore' && isInside(path.dirname(abs), workspace.abs)) return { kind: 'gitignore' };
    }
    return { kind: 'none' };
  }

  /** An authority call on the working tree: a refusal (a symlink on the way) reads as "not there". */
  async function work<T>(abs: string, p: CheckedPath, call: (p: CheckedPath) => Promise<T> | T): Promise<T> {
    try {
      return await call(p);
    } catch (err) {
      if (err instanceof ToolRefusal || (err instanceof ToolFailure && /^no such file/.test(err.message))) throw errno('ENOENT', abs);
      throw err;
    }
  }

  async function lstat(abs: string) {
    const at = place(abs);
    if (at.kind === 'git' || at.kind === 'ancestor' || at.kind === 'gitignore') return fs.promises.lstat(abs);
    if (at.kind === 'none') throw errno('ENOENT', abs);
    const stats = await work(abs, at.path, entryStats);
    if (stats === null) throw errno('ENOENT', abs);
    return plainStats(stats);
  }

  const promises = {
    async readFile(abs: string, options?: BufferEncoding | { encoding?: BufferEncoding | null }) {
      const encoding = typeof options === 'string' ? options : options?.encoding ?? undefined;
      const at = place(abs);
      if (at.kind === 'git' || at.kind === 'gitignore') return fs.promises.readFile(abs, options as never);
      if (at.kind !== 'work') throw errno(at.kind === 'ancestor' ? 'EISDIR' : 'ENOENT', abs);
      let bytes: Buffer;
      try {
        bytes = await readWhole(at.path);
      } catch (err) {
        if (err instanceof ToolRefusal && !/symlink/.test(err.message)) bytes = UNREAD;
        else if (err instanceof ToolFailure && /not a regular file/.test(err.message)) bytes = UNREAD;
        else if (err instanceof ToolFailure && /is a directory/.test(err.message)) throw errno('EISDIR', abs);
        else throw errno('ENOENT', abs);
      }
      return encoding ? bytes.toString(encoding) : bytes;
    },
    lstat,
    // The working tree is never followed: stat is lstat there.
    async stat(abs: string) {
      return place(abs).kind === 'git' ? fs.promises.stat(abs) : lstat(abs);
    },
    async readdir(abs: string) {
      const at = place(abs);
      if (at.kind === 'git') return fs.promises.readdir(abs);
      if (at.kind === 'ancestor') return [at.next];
      if (at.kind !== 'work') throw errno('ENOENT', abs);
      const entries = await work(abs, at.path, listDirectory);
      return entries.map((e) => e.name);
    },
    async readlink(abs: string) {
      const at = place(abs);
      if (at.kind === 'git') return fs.promises.readlink(abs);
      if (at.kind !== 'work') throw errno('ENOENT', abs);
      return work(abs, at.path, readLinkText);
    },
    // Writes: git's own directory only (a session commit writes objects and a ref there).
    async writeFile(abs: string, data: Uint8Array | string, options?: fs.WriteFileOptions) {
      if (place(abs).kind !== 'git') throw errno('EPERM', abs);
      return fs.promises.writeFile(abs, data, options);
    },
    async mkdir(abs: string, options?: fs.MakeDirectoryOptions) {
      if (place(abs).kind !== 'git') throw errno('EPERM', abs);
      return fs.promises.mkdir(abs, options);
    },
    async rmdir(abs: string) {
      if (place(abs).kind !== 'git') throw errno('EPERM', abs);
      return fs.promises.rmdir(abs);
    },
    async unlink(abs: string) {
      if (place(abs).kind !== 'git') throw errno('EPERM', abs);
      return fs.promises.unlink(abs);
    },
    async symlink(target: string, abs: string) {
      if (place(abs).kind !== 'git') throw errno('EPERM', abs);
      return fs.promises.symlink(target, abs);
    },
    async chmod(abs: string, mode: fs.Mode) {
      if (place(abs).kind !== 'git') throw errno('EPERM', abs);
      return fs.promises.chmod(abs, mode);
    },
  };
  return { promises };
}
