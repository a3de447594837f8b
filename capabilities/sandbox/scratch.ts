// The host directories the broker makes for the sandbox and removes after it,
// all under the OS temp dir and outside the workspace: the per-command
// scratch directory behind the sandbox's private HOME and TMPDIR (with the
// empty file that covers hidden files), and the probe's throwaway workspace.
//
// The OS boundary, not workspace I/O: nothing here reads or writes a
// workspace file (that goes through fs/authority.ts), and
// spec/architecture.spec.ts allows node:fs here by name.

import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errnoCode } from './errno.js';
import { isWithin } from './plan.js';

export interface ScratchLayout {
  /** The host directory itself; never bound into the sandbox whole. */
  root: string;
  /** Bound writable as the command's HOME. */
  home: string;
  /** Bound writable as the command's TMPDIR. */
  tmp: string;
  /** An empty read-only file, bound over every hidden file (outside home and tmp, so no command can fill it). */
  emptyFile: string;
}

/** A new directory under `base` named `prefix…`, filled by `fill`; removed again if that fails. */
async function freshDirectory(base: string, prefix: string, fill: (root: string) => Promise<void>): Promise<string> {
  const root = await fsp.realpath(await fsp.mkdtemp(path.join(base, prefix)));
  try {
    await fill(root);
  } catch (err) {
    await removeScratchTree(root);
    throw err;
  }
  return root;
}

/** A fresh scratch directory outside `workspace` (the host's temp dir, or /tmp when that lies inside it). */
export async function createScratch(workspace: string): Promise<ScratchLayout> {
  let base = await fsp.realpath(os.tmpdir());
  // The plan's shape check keeps the workspace off /tmp itself, so this fallback is outside it.
  if (isWithin(base, workspace)) base = '/tmp';
  const layout = (root: string): ScratchLayout => ({
    root,
    home: path.join(root, 'home'),
    tmp: path.join(root, 'tmp'),
    emptyFile: path.join(root, 'empty'),
  });
  const root = await freshDirectory(base, 'choragen-sandbox-', async (dir) => {
    const { home, tmp, emptyFile } = layout(dir);
    await fsp.chmod(dir, 0o700);
    await fsp.mkdir(home, { mode: 0o700 });
    await fsp.mkdir(tmp, { mode: 0o700 });
    await fsp.writeFile(emptyFile, '', { mode: 0o444, flag: 'wx' });
  });
  return layout(root);
}

export async function removeScratch(scratch: ScratchLayout): Promise<void> {
  await removeScratchTree(scratch.root);
}

/** The files of the probe's throwaway workspace, as the self-test and the check after it use them. */
export interface ProbeWorkspace {
  root: string;
  /** Where the self-test must be able to write. */
  written: string;
  /** Planned read-only: nothing may appear in it. */
  protectedDir: string;
  leaked: string;
  /** Planned hidden. */
  secret: string;
  privateDir: string;
}

/** A throwaway workspace under the OS temp dir with each kind of path a plan can hold. */
export async function createProbeWorkspace(): Promise<ProbeWorkspace> {
  const layout = (root: string): ProbeWorkspace => ({
    root,
    written: path.join(root, 'written'),
    protectedDir: path.join(root, 'protected'),
    leaked: path.join(root, 'protected', 'x'),
    secret: path.join(root, 'secret'),
    privateDir: path.join(root, 'private'),
  });
  const root = await freshDirectory(os.tmpdir(), 'choragen-probe-', async (dir) => {
    const ws = layout(dir);
    await fsp.mkdir(ws.protectedDir);
    await fsp.mkdir(ws.privateDir);
    await fsp.writeFile(path.join(ws.privateDir, 'inner'), 'probe');
    await fsp.writeFile(ws.secret, 'probe');
  });
  return layout(root);
}

export async function removeProbeWorkspace(ws: ProbeWorkspace): Promise<void> {
  await removeScratchTree(ws.root);
}

/**
 * Deletes a directory this module made, with everything a command left in
 * it. Symlinks are unlinked, never followed; a directory without owner rwx
 * gets it first so a non-root broker can empty it. Quiet when it is gone.
 */
async function removeScratchTree(abs: string): Promise<void> {
  let st;
  try {
    st = await fsp.lstat(abs);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  if (!st.isDirectory()) {
    await fsp.unlink(abs);
    return;
  }
  // chmod follows symlinks, but lstat just said this is a directory, and the
  // sandbox that could swap it is gone by the time anything is removed.
  if ((st.mode & 0o700) !== 0o700) await fsp.chmod(abs, (st.mode & 0o7777) | 0o700);
  for (const name of await fsp.readdir(abs)) await removeScratchTree(path.join(abs, name));
  await fsp.rmdir(abs);
}
