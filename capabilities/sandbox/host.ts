// The host as the sandbox sees it from outside: what it hides, and the facts
// the pure parts (the argument builder, the guard) need but must not look up
// themselves: which hidden paths exist, where node and bwrap are installed,
// which file descriptors would leak, whether a program on the system PATH is
// there, whether the plan's paths are what bubblewrap will mount, whether the
// sandbox's init is still alive, and what the kernel says when the probe fails.
//
// This is the OS boundary, not workspace I/O: it reads metadata of the host
// (and, for the mount check, of the plan's paths), never the content of a
// workspace file, and writes nothing. Every byte of the workspace goes through
// fs/authority.ts; spec/architecture.spec.ts allows node:fs here by name.

import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from './errno.js';
import type { HiddenPath, SandboxPlan } from './plan.js';
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

/**
 * Top-level directories that hold the system (programs, libraries, their
 * configuration). Every other directory at the root of the host (a /work,
 * /data or /check holding other projects and their secrets) is hidden like
 * the homes; the workspace is shown inside it by the plan.
 */
export const HOST_SYSTEM_DIRS: readonly string[] = [
  '/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/opt', '/proc', '/sbin', '/sys', '/tmp', '/usr', '/var',
  '/nix', '/gnu', '/snap',
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

/** The root's real directories (symlinks left out: they point into the system or into one of these) that are neither system nor already hidden. */
async function otherTopLevelDirs(): Promise<string[]> {
  const known = new Set([...HOST_SYSTEM_DIRS, ...HOST_HIDDEN_DIRS]);
  try {
    const entries = await fsp.readdir('/', { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !known.has(`/${e.name}`)).map((e) => `/${e.name}`).sort();
  } catch {
    return [];
  }
}

/**
 * The host side of a sandbox for `workspace`. A hidden directory that is the
 * workspace or inside it is left alone: the workspace is shown by the plan, and
 * a tmpfs remounted read-only on the workspace's own mount point would freeze it.
 */
export async function hostLayout(workspace: string, nodeBinary: string = process.execPath): Promise<HostLayout> {
  const hidden: HiddenPath[] = [];
  for (const p of [...HOST_HIDDEN_DIRS, ...(await otherTopLevelDirs()), ...HOST_SECRET_PATHS]) {
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

/** /dev/null, opened for reading: the runner covers leaked descriptors with it. The caller closes it. */
export function openDevNull(): Promise<FileHandle> {
  return fsp.open('/dev/null', 'r');
}

// --- programs on the host ------------------------------------------------------

export interface HostProgram {
  /** An executable regular file (links followed, as execvp follows them). */
  executable: boolean;
  /** Where it leads, every symlink followed; null when nothing is there. */
  realPath: string | null;
}

/** A program file outside the workspace: a system PATH directory, node's, or an absolute path. */
export async function hostProgram(file: string): Promise<HostProgram> {
  const realPath = await fsp.realpath(file).catch(() => null);
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) return { executable: false, realPath };
    await fsp.access(file, fsp.constants.X_OK);
    return { executable: true, realPath };
  } catch {
    return { executable: false, realPath };
  }
}

// --- the plan against the disk -------------------------------------------------
//
// bubblewrap resolves symlinks in every source and destination it is given,
// so a plan path that is (or goes through) a symlink could mount a different
// place than the one the policy was asked about. Each path must exist and be
// its own real path. What remains is the window between this check and
// bubblewrap's mounts: the caller closes it by running one command per
// workspace at a time (no sandboxed process is alive to swap a directory meanwhile).

async function mountProblem(p: string, what: string, kind: 'dir' | 'file' | 'any'): Promise<string | null> {
  let st;
  let real;
  try {
    st = await fsp.lstat(p);
    real = await fsp.realpath(p);
  } catch (err) {
    return `${what} ${p} cannot be used (${errnoCode(err)})`;
  }
  if (real !== p || st.isSymbolicLink()) return `${what} ${p} is a symlink or goes through one`;
  if (kind === 'dir' && !st.isDirectory()) return `${what} ${p} is not a directory`;
  if (kind === 'file' && st.isDirectory()) return `${what} ${p} is a directory, planned as a file`;
  return null;
}

/** The first reason the plan does not match the disk, or null when it does. */
export async function planProblemOnDisk(plan: SandboxPlan): Promise<string | null> {
  const checks: Array<[string, string, 'dir' | 'file' | 'any']> = [
    [plan.workspace, 'workspace', 'dir'],
    [plan.cwd, 'working directory', 'dir'],
    ...plan.writable.map((p): [string, string, 'any'] => [p, 'writable path', 'any']),
    ...plan.readOnly.map((p): [string, string, 'any'] => [p, 'read-only path', 'any']),
    ...plan.hidden.map((h): [string, string, 'dir' | 'file'] => [h.path, 'hidden path', h.kind]),
  ];
  for (const [p, what, kind] of checks) {
    const problem = await mountProblem(p, what, kind);
    if (problem !== null) return problem;
  }
  return null;
}

// --- processes -------------------------------------------------------------------

export interface InitProcess {
  /** Host pid of the sandbox's init. */
  pid: number;
  /** `pid:[inode]` of the pid namespace it heads: tells it from a later process that reuses the pid. */
  pidNamespace: string;
}

/** Whether the sandbox's init (and so anything in its pid namespace) is still alive. */
export async function initAlive(init: InitProcess): Promise<boolean> {
  try {
    // Another namespace means the pid was reused by an unrelated process.
    if ((await fsp.readlink(`/proc/${init.pid}/ns/pid`)) !== init.pidNamespace) return false;
    // A zombie init has already taken every process of its namespace down with it; whoever
    // inherited it (the host's init) may take its time to reap it.
    const stat = await fsp.readFile(`/proc/${init.pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // gone
  }
}

// --- what the probe reports when the sandbox does not work -----------------------

/** Whether anything is at the host path `p` (not followed). */
export async function hostPathExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** A /proc/sys value (`kernel/unprivileged_userns_clone`), or undefined where the file does not exist. */
export async function readSysctl(name: string): Promise<string | undefined> {
  try {
    return (await fsp.readFile(`/proc/sys/${name}`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** 'docker', 'podman' or 'container' when this process runs inside one, else null. */
export async function containerKind(): Promise<string | null> {
  if (await hostPathExists('/.dockerenv')) return 'docker';
  if (await hostPathExists('/run/.containerenv')) return 'podman';
  try {
    if (/docker|kubepods|containerd|lxc/.test(await fsp.readFile('/proc/1/cgroup', 'utf8'))) return 'container';
  } catch {
    // no cgroup information: not known to be a container
  }
  return null;
}
