// What the sandbox hides of the host, and the host facts the argument builder
// needs but must not look up itself (it stays pure): which of the hidden paths
// exist, where node is installed, which file descriptors would leak.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { HiddenPath } from './plan.js';
import { isWithin } from './plan.js';

/**
 * Host directories a command never sees. Each existing one becomes an empty
 * read-only tmpfs: homes (dotfiles, SSH keys, cloud and registry tokens), /run
 * (runtime sockets such as docker.sock, whose connect() a read-only mount does
 * not prevent), mounted media and shares, and the host's shared /var/tmp.
 * The host's /tmp is replaced too, by the private /tmp every command gets.
 */
export const HOST_HIDDEN_DIRS: readonly string[] = ['/root', '/home', '/run', '/mnt', '/srv', '/media', '/var/tmp'];

/**
 * Secret stores outside those directories that root can read (the sandbox runs
 * with the broker's uid, and root's files stay readable to root without any
 * capability): password hashes, SSH host keys, their backups.
 */
export const HOST_SECRET_PATHS: readonly string[] = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/ssh',
  '/var/backups',
];

/** Where bubblewrap is looked for: system directories only, never PATH (see findBwrap). */
export const TRUSTED_BWRAP_PATHS: readonly string[] = ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap'];

export interface HostLayout {
  /** The hidden host paths that exist, outside the workspace. */
  hidden: HiddenPath[];
  /** Host paths shown read-only although a hidden path covers them: node's installation under a home. */
  exposed: string[];
}

async function kindOf(p: string): Promise<'file' | 'dir' | null> {
  try {
    // stat, not lstat: when /var/run-like entries are symlinks, the mount lands on the target.
    const st = await fsp.stat(p);
    return st.isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

/**
 * The host side of a sandbox for `workspace`. A hidden directory that is the
 * workspace or inside it is left alone: the workspace is shown by the plan, and
 * a tmpfs remounted read-only on the workspace's own mount point would freeze it.
 */
export async function hostLayout(workspace: string, nodeBinary: string = process.execPath): Promise<HostLayout> {
  const hidden: HiddenPath[] = [];
  for (const p of [...HOST_HIDDEN_DIRS, ...HOST_SECRET_PATHS]) {
    if (isWithin(p, workspace)) continue;
    const kind = await kindOf(p);
    if (kind !== null) hidden.push({ path: p, kind });
  }
  const exposed: string[] = [];
  const nodePrefix = path.dirname(path.dirname(await fsp.realpath(nodeBinary)));
  if (hidden.some((h) => isWithin(nodePrefix, h.path)) && !isWithin(nodePrefix, workspace)) exposed.push(nodePrefix);
  return { hidden, exposed };
}

/**
 * bubblewrap from a system directory, or null. PATH is not searched: when
 * choragen runs through `npx` in the workspace, PATH starts with the
 * workspace's node_modules/.bin, where a session may be allowed to write; a
 * `bwrap` planted there would run every command unsandboxed.
 */
export async function findBwrap(candidates: readonly string[] = TRUSTED_BWRAP_PATHS): Promise<string | null> {
  for (const candidate of candidates) {
    try {
      const st = await fsp.stat(candidate);
      if (st.isFile() && (st.mode & 0o111) !== 0) return candidate;
    } catch {
      // not here; try the next one
    }
  }
  return null;
}

const O_CLOEXEC = 0o2000000;

/**
 * File descriptors this process holds without close-on-exec (inherited from
 * whoever started it: a terminal multiplexer, an IDE, a CI harness). Every
 * child inherits them, and bubblewrap deliberately passes inherited descriptors
 * on to the command, so the runner covers each one with /dev/null.
 */
export async function inheritedFds(): Promise<number[]> {
  let names: string[];
  try {
    names = await fsp.readdir('/proc/self/fd');
  } catch {
    return [];
  }
  const leaks: number[] = [];
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd < 3) continue;
    try {
      const info = await fsp.readFile(`/proc/self/fdinfo/${fd}`, 'utf8');
      const flags = /^flags:\s*([0-7]+)/m.exec(info);
      if (flags !== null && (parseInt(flags[1]!, 8) & O_CLOEXEC) === 0) leaks.push(fd);
    } catch {
      // closed meanwhile (e.g. the descriptor readdir itself used)
    }
  }
  return leaks.sort((a, b) => a - b);
}
