// A control group per command: at most so many processes and so much memory,
// so a fork bomb or a memory hog in a test fails inside its sandbox instead of
// taking the host, and the broker with it. bubblewrap's namespaces bound what a
// command sees, not what it uses, and RLIMIT_NPROC does not bind root.
//
// cgroup v1 (a hierarchy per controller under /sys/fs/cgroup/<controller>) and
// a v2 hierarchy whose own cgroup delegates `pids`/`memory` to its children
// are both used; the group is made below the broker's own, so whatever bounds
// the broker bounds the command too. Where neither is writable (not root, no
// delegation) commands run without these two limits, and the sandbox's status
// says so. Like host.ts, this is the OS boundary: node:fs on /sys and /proc
// only, never on the workspace.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoCode } from './errno.js';

export interface CgroupLimits {
  /** Processes (threads included) alive at once in the whole sandbox. */
  maxProcesses: number;
  /** Memory of the whole sandbox, in MiB (page cache included). */
  maxMemoryMb: number;
}

export interface CommandCgroup {
  /** The `cgroup.procs` files the command's first process writes itself into before it runs bubblewrap. */
  procsFiles: string[];
  /** Removes the group (its processes are gone by then); a warning when it could not. */
  remove(): Promise<string | null>;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** One controller's place: where its hierarchy is mounted and the broker's cgroup in it. */
interface Hierarchy {
  dir: string;
  /** The file that takes the limit, and the value. */
  limits: Array<[file: string, value: string]>;
}

let made = 0;

/** Where each needed controller lets this process make a child group, or why not. */
async function hierarchies(limits: CgroupLimits): Promise<Hierarchy[] | string> {
  let own: string;
  try {
    own = await fsp.readFile('/proc/self/cgroup', 'utf8');
  } catch {
    return 'no /proc/self/cgroup';
  }
  const memory = String(limits.maxMemoryMb * 1024 * 1024);
  const lines = own.split('\n').filter(Boolean).map((l) => l.split(':'));
  const v1 = (controller: string) => lines.find(([, list]) => list!.split(',').includes(controller))?.slice(2).join(':');
  const pidsPath = v1('pids');
  const memoryPath = v1('memory');
  if (pidsPath !== undefined && memoryPath !== undefined) {
    return [
      { dir: path.join(CGROUP_ROOT, 'pids', pidsPath), limits: [['pids.max', String(limits.maxProcesses)]] },
      { dir: path.join(CGROUP_ROOT, 'memory', memoryPath), limits: [['memory.limit_in_bytes', memory]] },
    ];
  }
  const unified = lines.find(([id, list]) => id === '0' && list === '')?.slice(2).join(':');
  if (unified === undefined) return 'no pids and memory controllers';
  const dir = path.join(CGROUP_ROOT, unified);
  const delegated = await fsp.readFile(path.join(dir, 'cgroup.subtree_control'), 'utf8').catch(() => '');
  const enabled = delegated.split(/\s+/);
  if (!enabled.includes('pids') || !enabled.includes('memory')) return `the cgroup ${unified} does not delegate pids and memory`;
  return [{ dir, limits: [['pids.max', String(limits.maxProcesses)], ['memory.max', memory]] }];
}

/** Empty groups of brokers that were killed before they could remove them (a group with processes stays: rmdir refuses). */
async function removeLeftovers(places: Hierarchy[]): Promise<void> {
  for (const place of places) {
    const names = await fsp.readdir(place.dir).catch(() => [] as string[]);
    for (const name of names) {
      const pid = /^choragen-(\d+)-\d+$/.exec(name)?.[1];
      if (pid === undefined || Number(pid) === process.pid || processAlive(Number(pid))) continue;
      await fsp.rmdir(path.join(place.dir, name)).catch(() => undefined);
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/** A fresh group with `limits` below the broker's own, or why there is none. */
export async function makeCommandCgroup(limits: CgroupLimits): Promise<CommandCgroup | { unavailable: string }> {
  const places = await hierarchies(limits);
  if (typeof places === 'string') return { unavailable: places };
  await removeLeftovers(places);
  const name = `choragen-${process.pid}-${++made}`;
  const dirs: string[] = [];
  const remove = async (): Promise<string | null> => {
    // A process just killed may take a moment to leave its group.
    for (const dir of dirs.reverse()) {
      for (let attempt = 0; ; attempt++) {
        try {
          await fsp.rmdir(dir);
          break;
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') break;
          if (errnoCode(err) !== 'EBUSY' || attempt >= 40) return `the command's cgroup ${dir} could not be removed (${errnoCode(err)})`;
          await sleep(25);
        }
      }
    }
    return null;
  };
  try {
    for (const place of places) {
      const dir = path.join(place.dir, name);
      await fsp.mkdir(dir);
      dirs.push(dir);
      for (const [file, value] of place.limits) await fsp.writeFile(path.join(dir, file), value);
    }
  } catch (err) {
    await remove();
    return { unavailable: `cannot make a cgroup (${errnoCode(err)})` };
  }
  return { procsFiles: dirs.map((d) => path.join(d, 'cgroup.procs')), remove };
}

/**
 * The program and arguments that start bubblewrap inside the group: a system
 * shell writes its own pid into each `cgroup.procs` and then becomes bwrap
 * (exec keeps the pid), so bubblewrap and everything it starts are counted
 * from their first instruction. It exits 125 without running bubblewrap if it
 * cannot join.
 */
export function joinThenRun(procsFiles: readonly string[], bwrap: string, args: readonly string[]): [string, string[]] {
  // The shell exports PWD of its own; bubblewrap's environment must stay empty (the command can read it in /proc/1).
  const script = 'unset PWD; while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
  return ['/bin/sh', ['-c', script, 'sh', ...procsFiles, '--', bwrap, ...args]];
}

let status: Promise<string> | undefined;

/** Whether commands here get the two limits, for the sandbox's status line (asked once). */
export function cgroupStatus(limits: CgroupLimits): Promise<string> {
  status ??= (async () => {
    const made = await makeCommandCgroup(limits);
    if ('unavailable' in made) return `no process or memory limit (${made.unavailable})`;
    await made.remove();
    return `at most ${limits.maxProcesses} processes and ${limits.maxMemoryMb} MiB per command (cgroup)`;
  })();
  return status;
}
