// The bubblewrap command line for a plan: pure, so what a sandbox allows can be
// read (and tested) from its arguments alone. Behaviour of bubblewrap 0.8 this
// relies on, checked against the real binary (spec/capabilities/sandbox/):
//
// - Mount operations run in argument order, each on top of what is already
//   mounted, so shallower paths are mounted first and a deeper mount can
//   re-expose (the workspace under a hidden /home) or re-protect (.git inside
//   a writable workspace) a path below.
// - `--ro-bind` is recursive read-only; `--bind` is recursive writable.
// - `--remount-ro DEST` is not recursive: remounting a tmpfs read-only at the
//   end leaves the binds made below it writable, while the tmpfs itself takes
//   no new files. It must come after those binds, because bubblewrap creates
//   missing mount points (e.g. the workspace's path inside the private /tmp)
//   and cannot in a read-only tmpfs.
// - `--disable-userns` needs `--unshare-user` and is verified by bubblewrap
//   itself (it fails to start if a new user namespace can still be made).
// - bubblewrap sets PWD after `--clearenv`; nothing else of its own
//   environment reaches the command, but /proc/1 inside is bubblewrap's
//   init, whose environ and cmdline the command can read: spawn it with an
//   empty environment and never put a secret in these arguments.
// - Descriptors bubblewrap inherits are passed on to the command (the runner
//   covers inherited ones with /dev/null); the `--json-status-fd` one is not.

import type { HostLayout } from './host.js';
import type { ScratchLayout } from './scratch.js';
import {
  SANDBOX_HOME,
  SANDBOX_TMPDIR,
  SandboxPlanError,
  checkAbsolute,
  checkPlanShape,
  isWithin,
  pathDepth,
  type SandboxPlan,
} from './plan.js';

/** bubblewrap 0.8 refuses more arguments than this (MAX_ARGS in bubblewrap.c). */
export const BWRAP_MAX_ARGS = 9000;

interface Mount {
  dest: string;
  args: string[];
  /** An empty tmpfs, remounted read-only once everything below it is mounted. */
  emptyTmpfs: boolean;
}

function bind(src: string, dest: string, writable: boolean): Mount {
  return { dest, args: [writable ? '--bind' : '--ro-bind', src, dest], emptyTmpfs: false };
}

function emptyDir(dest: string): Mount {
  return { dest, args: ['--tmpfs', dest], emptyTmpfs: true };
}

function unique<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(key(item)) && seen.add(key(item)));
}

/**
 * The arguments for `bwrap` (without the program name) that run `plan.argv`
 * in the sandbox, reporting its status as JSON on `statusFd`.
 * Throws SandboxPlanError for a malformed plan.
 */
export function bwrapArgs(plan: SandboxPlan, host: HostLayout, scratch: ScratchLayout, statusFd: number): string[] {
  checkPlanShape(plan);
  const ws = plan.workspace;
  for (const [what, p] of Object.entries(scratch)) {
    checkAbsolute(p, `scratch.${what}`);
    if (isWithin(p, ws)) throw new SandboxPlanError(`scratch.${what}: ${p} is inside the workspace`);
  }
  host.hidden.forEach((h, i) => checkAbsolute(h.path, `host.hidden[${i}]`));
  host.exposed.forEach((p, i) => checkAbsolute(p, `host.exposed[${i}]`));
  if (!Number.isInteger(statusFd) || statusFd < 3) throw new SandboxPlanError(`statusFd: ${statusFd} is not a spare descriptor`);

  // Hidden wins over read-only, read-only over writable: a denied path stays
  // denied whatever broader area around it the plan opens.
  const hidden = unique(plan.hidden, (h) => h.path);
  const underHidden = (p: string) => hidden.some((h) => isWithin(p, h.path));
  const readOnly = unique(plan.readOnly, (p) => p).filter((p) => !underHidden(p));
  const writable = unique(plan.writable, (p) => p).filter(
    (p) => !underHidden(p) && !readOnly.some((r) => isWithin(p, r)),
  );

  const mounts: Mount[] = [
    // A private, empty /tmp: other users' and the broker's temp files stay out of sight.
    emptyDir('/tmp'),
    ...host.hidden
      .filter((h) => !isWithin(h.path, ws))
      .map((h) => (h.kind === 'dir' ? emptyDir(h.path) : bind(scratch.emptyFile, h.path, false))),
    ...host.exposed.map((p) => bind(p, p, false)),
    // The workspace keeps its host path; read-only unless the plan opens it whole.
    bind(ws, ws, writable.includes(ws)),
    ...writable.filter((p) => p !== ws).map((p) => bind(p, p, true)),
    ...readOnly.map((p) => bind(p, p, false)),
    ...hidden.map((h) => (h.kind === 'dir' ? emptyDir(h.path) : bind(scratch.emptyFile, h.path, false))),
    // The only writable places outside the workspace: this command's own HOME and TMPDIR.
    bind(scratch.home, SANDBOX_HOME, true),
    bind(scratch.tmp, SANDBOX_TMPDIR, true),
  ];
  // Shallow first, so a deeper mount lands on top; the sort is stable, and paths of equal depth are disjoint.
  mounts.sort((a, b) => pathDepth(a.dest) - pathDepth(b.dest));

  const args = [
    // The host's root, read-only (recursively: every mount below it too), so programs and libraries work.
    '--ro-bind', '/', '/',
    // A fresh /dev with only null, zero, full, random, urandom, tty and a private pts/shm: no host devices.
    '--dev', '/dev',
    // A procfs of the sandbox's own pid namespace: the host's processes, their environments and command lines stay invisible.
    '--proc', '/proc',
    ...mounts.flatMap((m) => m.args),
    ...mounts.filter((m) => m.emptyTmpfs).flatMap((m) => ['--remount-ro', m.dest]),
    // New user, mount, pid, network, ipc, uts and cgroup namespaces. The new network namespace
    // has only its own loopback: no route to any host interface, the host's 127.0.0.1 included.
    '--unshare-all',
    // --unshare-all only tries the user namespace; require it (--disable-userns depends on it).
    '--unshare-user',
    // No nested user namespace, so the command cannot gain capabilities in one and remount its view.
    '--disable-userns',
    // No capabilities, even when the broker runs as root.
    '--cap-drop', 'ALL',
    // The sandbox's init dies with bubblewrap, and with it the whole pid namespace: nothing the
    // command started, daemonized or not, outlives bubblewrap or the broker.
    '--die-with-parent',
    // setsid(): no controlling terminal, so no TIOCSTI keystroke injection into the user's terminal.
    '--new-session',
    // Only PATH, HOME and TMPDIR (bubblewrap adds PWD): no token or key from the broker's environment.
    '--clearenv',
    '--setenv', 'PATH', plan.pathDirs.join(':'),
    '--setenv', 'HOME', SANDBOX_HOME,
    '--setenv', 'TMPDIR', SANDBOX_TMPDIR,
    '--chdir', plan.cwd,
    // {"child-pid"} when the sandbox's init exists, {"exit-code"} only if the command was exec'd:
    // tells a setup failure from a command that failed. Closed before the command runs.
    '--json-status-fd', String(statusFd),
    '--',
    ...plan.argv,
  ];
  if (args.length + 1 > BWRAP_MAX_ARGS) {
    throw new SandboxPlanError(
      `the plan needs ${args.length + 1} bubblewrap arguments; bubblewrap accepts at most ${BWRAP_MAX_ARGS} ` +
        '(protect or hide directories rather than many single files)',
    );
  }
  return args;
}
