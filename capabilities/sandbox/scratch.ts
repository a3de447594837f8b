// The per-command host directory behind the sandbox's private HOME and TMPDIR,
// and the empty file that covers hidden files. Created before each command,
// private to the broker's uid (0700), removed afterwards.

import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isWithin } from './plan.js';
import { removeTree } from './remove.js';

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

/** A fresh scratch directory outside `workspace` (the host's temp dir, or /tmp when that lies inside it). */
export async function createScratch(workspace: string): Promise<ScratchLayout> {
  let base = await fsp.realpath(os.tmpdir());
  // The plan's shape check keeps the workspace off /tmp itself, so this fallback is outside it.
  if (isWithin(base, workspace)) base = '/tmp';
  const root = await fsp.mkdtemp(path.join(base, 'choragen-sandbox-'));
  const layout: ScratchLayout = {
    root,
    home: path.join(root, 'home'),
    tmp: path.join(root, 'tmp'),
    emptyFile: path.join(root, 'empty'),
  };
  try {
    await fsp.chmod(root, 0o700);
    await fsp.mkdir(layout.home, { mode: 0o700 });
    await fsp.mkdir(layout.tmp, { mode: 0o700 });
    await fsp.writeFile(layout.emptyFile, '', { mode: 0o444, flag: 'wx' });
  } catch (err) {
    await removeTree(root);
    throw err;
  }
  return layout;
}

export async function removeScratch(scratch: ScratchLayout): Promise<void> {
  await removeTree(scratch.root);
}
