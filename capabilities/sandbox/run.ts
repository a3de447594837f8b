// Runs one planned command under bubblewrap and reports how it ended. Never a
// shell, never without bubblewrap. Everything is asynchronous: the broker's
// event loop keeps serving other sessions (and Ctrl-C) while a command runs.
//
// Ending a command: bubblewrap is spawned detached, in its own process group,
// and the sandbox's init (pid 1 of a fresh pid namespace) runs with
// --die-with-parent. Signalling the group ends bubblewrap; its init then gets
// SIGKILL, and when the init of a pid namespace dies the kernel kills every
// process left in it, daemonized or setsid'd grandchildren included. The
// command gets no graceful SIGTERM of its own: its sandbox is discarded
// whole, which is what guarantees that nothing outlives it. Where the host
// lets us, bubblewrap starts inside a cgroup of its own (cgroup.ts) that
// bounds how many processes and how much memory the sandbox may hold.

import { spawn, type StdioOptions } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { bwrapArgs } from './bwrap-args.js';
import { type CommandCgroup, joinThenRun, makeCommandCgroup } from './cgroup.js';
import { errnoCode } from './errno.js';
import { hostLayout, inheritedFds, initAlive, openDevNull, planProblemOnDisk, type InitProcess } from './host.js';
import { OutputTail, type CapturedOutput } from './output-tail.js';
import { checkPlanShape, type SandboxPlan } from './plan.js';
import { Sandbox } from './sandbox.js';
import { createScratch, removeScratch } from './scratch.js';
import { forgetSandboxVerdicts } from './verdict-cache.js';

/** The descriptor on which bubblewrap reports {"child-pid"} and {"exit-code"}. */
const STATUS_FD = 3;
/** A sandbox whose init is still alive this long after bubblewrap exited gets SIGKILL directly. */
const INIT_KILL_AFTER_MS = 500;
/** How long to wait for the pid namespace to empty and the pipes to close before reporting anyway. */
const SETTLE_MS = 5_000;

export type StopReason = 'timeout' | 'abort' | 'output-limit';

export interface SandboxLimits {
  /** Wall-clock time before the whole sandbox is killed. */
  timeoutMs: number;
  /** Bytes kept per stream (the tail). */
  outputCapBytes: number;
  /** Bytes read from stdout and stderr together before the whole sandbox is killed (a flood). */
  outputLimitBytes: number;
  /** Time between SIGTERM and SIGKILL when stopping. */
  killGraceMs: number;
  /** Processes alive at once in the sandbox (cgroup; where the host allows one). */
  maxProcesses: number;
  /** Memory of the whole sandbox in MiB (cgroup; where the host allows one). */
  maxMemoryMb: number;
}

export const DEFAULT_SANDBOX_LIMITS: Readonly<SandboxLimits> = {
  timeoutMs: 120_000,
  outputCapBytes: 64 * 1024,
  outputLimitBytes: 32 * 1024 * 1024,
  killGraceMs: 2_000,
  maxProcesses: 1024,
  maxMemoryMb: 4096,
};

export interface SandboxRun {
  /** The command's exit status (128+N when it died of signal N inside); null when it was stopped or never ran. */
  exitCode: number | null;
  /** The signal that ended bubblewrap when the runner stopped it. */
  signal: NodeJS.Signals | null;
  /** Why the runner stopped the command; null when it ended by itself (or never started). */
  stoppedBy: StopReason | null;
  /** Why the sandbox could not be set up; the command did not run. */
  setupError: string | null;
  durationMs: number;
  stdout: CapturedOutput;
  stderr: CapturedOutput;
  /** Things a reader should know that did not stop the run (e.g. a scratch directory left behind). */
  warnings: string[];
}

export interface RunOptions {
  limits?: Partial<SandboxLimits>;
  /** Aborting stops the command like a timeout (Ctrl-C, a session that ends). */
  signal?: AbortSignal;
}

const NO_OUTPUT: CapturedOutput = { text: '', totalBytes: 0, cutBytes: 0 };

function notRun(fields: { setupError?: string; stoppedBy?: StopReason }): SandboxRun {
  return {
    exitCode: null,
    signal: null,
    stoppedBy: fields.stoppedBy ?? null,
    setupError: fields.setupError ?? null,
    durationMs: 0,
    stdout: NO_OUTPUT,
    stderr: NO_OUTPUT,
    warnings: [],
  };
}

function resolveLimits(given: Partial<SandboxLimits> = {}): SandboxLimits {
  const limits = { ...DEFAULT_SANDBOX_LIMITS, ...given };
  for (const [name, value] of Object.entries(limits)) {
    // setTimeout's own ceiling bounds every limit, times included.
    if (!Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
      throw new RangeError(`sandbox limit ${name} must be a whole number from 0 to ${2 ** 31 - 1}, got ${value}`);
    }
  }
  return limits;
}


/** Runs `plan` in `sandbox` (from probeSandbox). Throws SandboxPlanError for a malformed plan. */
export async function runSandboxed(sandbox: Sandbox, plan: SandboxPlan, options: RunOptions = {}): Promise<SandboxRun> {
  if (!(sandbox instanceof Sandbox)) throw new TypeError('runSandboxed needs the Sandbox that probeSandbox() returned');
  const run = await runUnder(sandbox.bwrap, plan, options);
  // A sandbox that would not start may no longer work here: the next start probes again.
  if (run.setupError !== null) await forgetSandboxVerdicts();
  return run;
}

/** The runner proper, for the probe, which has a bwrap path but no verdict yet. */
export async function runUnder(bwrap: string, plan: SandboxPlan, options: RunOptions = {}): Promise<SandboxRun> {
  checkPlanShape(plan);
  const limits = resolveLimits(options.limits);
  if (options.signal?.aborted) return notRun({ stoppedBy: 'abort' });
  const problem = await planProblemOnDisk(plan);
  if (problem !== null) return notRun({ setupError: problem });
  const scratch = await createScratch(plan.workspace);
  let run: SandboxRun | undefined;
  let group: CommandCgroup | null = null;
  try {
    const host = await hostLayout(plan.workspace);
    const args = bwrapArgs(plan, host, scratch, STATUS_FD);
    const made = await makeCommandCgroup(limits);
    group = 'unavailable' in made ? null : made;
    const [program, argv] = group ? joinThenRun(group.procsFiles, bwrap, args) : [bwrap, args];
    run = await spawnAndCollect(program, argv, limits, options.signal, await inheritedFds());
    return run;
  } finally {
    const left = await group?.remove();
    if (left) run?.warnings.push(left);
    try {
      await removeScratch(scratch);
    } catch (err) {
      run?.warnings.push(`the scratch directory ${scratch.root} could not be removed (${errnoCode(err)})`);
    }
  }
}

/**
 * Waits until the sandbox's init, and so its whole pid namespace, is gone. It
 * normally follows bubblewrap within milliseconds; an init killed before it
 * could arm its parent-death signal (bubblewrap stopped during set-up) is
 * killed here directly.
 */
async function waitForNamespaceEnd(init: InitProcess): Promise<boolean> {
  const began = performance.now();
  let killed = false;
  while (await initAlive(init)) {
    const waited = performance.now() - began;
    if (waited > SETTLE_MS) return false;
    if (!killed && waited > INIT_KILL_AFTER_MS) {
      killed = true;
      try {
        process.kill(init.pid, 'SIGKILL');
      } catch {
        // gone between the check and the kill
      }
    }
    await sleep(5);
  }
  return true;
}

function closed(stream: NodeJS.ReadableStream & { closed?: boolean; destroy(): void }, ms: number): Promise<boolean> {
  if (stream.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stream.destroy();
      resolve(false);
    }, ms);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** bubblewrap's own complaint ("bwrap: Can't …") from stderr, for a sandbox that never started. */
function bwrapMessage(stderr: string): string | null {
  const lines = stderr.split('\n').filter((line) => line.startsWith('bwrap: '));
  const last = lines[lines.length - 1];
  return last === undefined ? null : last.slice(0, 300);
}

async function spawnAndCollect(
  program: string,
  args: string[],
  limits: SandboxLimits,
  signal: AbortSignal | undefined,
  leakedFds: number[],
): Promise<SandboxRun> {
  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', 'pipe'];
  const devNull = leakedFds.some((fd) => fd > STATUS_FD) ? await openDevNull() : null;
  if (devNull !== null) {
    for (const fd of leakedFds.filter((n) => n > STATUS_FD)) {
      while (stdio.length < fd) stdio.push('ignore');
      stdio[fd] = devNull.fd;
    }
  }
  const warnings: string[] = [];
  const out = new OutputTail(limits.outputCapBytes);
  const err = new OutputTail(limits.outputCapBytes);
  const began = performance.now();
  // Empty environment: bubblewrap's /proc/1/environ is readable inside, and it needs nothing from ours.
  // Detached: its own process group, so one kill reaches bubblewrap and nothing of the broker.
  const child = spawn(program, args, { env: {}, detached: true, stdio, cwd: '/' });
  // Listen before the first await, or a quick exit would go unheard.
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: string }>((resolve) => {
    child.once('error', (e) => resolve({ error: errnoCode(e) }));
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
  });

  let stoppedBy: StopReason | null = null;
  let exited = false;
  let init: InitProcess | null = null;
  let commandExit: number | null = null;
  let readBytes = 0;
  let graceTimer: NodeJS.Timeout | undefined;

  const killGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  const stop = (why: StopReason) => {
    if (stoppedBy !== null || exited) return;
    stoppedBy = why;
    killGroup('SIGTERM');
    graceTimer = setTimeout(() => killGroup('SIGKILL'), limits.killGraceMs);
  };
  const timer = setTimeout(() => stop('timeout'), limits.timeoutMs);
  const onAbort = () => stop('abort');
  signal?.addEventListener('abort', onAbort, { once: true });

  const collect = (tail: OutputTail) => (chunk: Buffer) => {
    tail.push(chunk);
    readBytes += chunk.length;
    if (readBytes > limits.outputLimitBytes) stop('output-limit');
  };
  child.stdout?.on('data', collect(out));
  child.stderr?.on('data', collect(err));

  // Absent only when the spawn itself failed.
  const status = child.stdio[STATUS_FD] as (NodeJS.ReadableStream & { destroy(): void; closed?: boolean }) | null;
  let statusText = '';
  status?.on('data', (chunk: Buffer) => {
    statusText += chunk.toString('utf8');
    let newline;
    while ((newline = statusText.indexOf('\n')) >= 0) {
      const line = statusText.slice(0, newline);
      statusText = statusText.slice(newline + 1);
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (typeof doc['child-pid'] === 'number' && typeof doc['pid-namespace'] === 'number') {
        init = { pid: doc['child-pid'], pidNamespace: `pid:[${doc['pid-namespace']}]` };
      }
      if (typeof doc['exit-code'] === 'number') commandExit = doc['exit-code'];
    }
    if (statusText.length > 64 * 1024) statusText = '';
  });

  await devNull?.close();
  const end = await ended;
  exited = true;
  const durationMs = Math.round(performance.now() - began);
  clearTimeout(timer);
  clearTimeout(graceTimer);
  signal?.removeEventListener('abort', onAbort);

  if (status !== null && !(await closed(status, SETTLE_MS))) warnings.push('bubblewrap did not close its status pipe');
  const initProcess = init as InitProcess | null;
  if (initProcess !== null && !(await waitForNamespaceEnd(initProcess))) {
    warnings.push(`the sandbox's processes were still alive ${SETTLE_MS} ms after bubblewrap exited`);
  }
  for (const [name, stream] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
    if (stream !== null && !(await closed(stream, SETTLE_MS))) {
      warnings.push(`${name} was still open after the sandbox ended; it was closed`);
    }
  }

  const stdout = out.result();
  const stderr = err.result();
  if ('error' in end) {
    return { ...notRun({ setupError: `bubblewrap could not be started (${end.error})` }), durationMs, warnings };
  }
  if (commandExit !== null) {
    // The command ended by itself (a stop that raced with its exit changed nothing).
    return { exitCode: commandExit, signal: null, stoppedBy: null, setupError: null, durationMs, stdout, stderr, warnings };
  }
  const reason = stoppedBy as StopReason | null;
  const setupError =
    reason === null
      ? (bwrapMessage(stderr.text) ??
        (end.code === 125 ? `the command could not join its cgroup (${stderr.text.trim().split('\n').pop()?.slice(0, 200)})` : null) ??
        `bubblewrap exited (${end.code ?? end.signal}) before the command started`)
      : null;
  return { exitCode: null, signal: end.signal, stoppedBy: reason, setupError, durationMs, stdout, stderr, warnings };
}
