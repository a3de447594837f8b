// How a sandboxed command ends: timeouts and aborts that take the whole tree
// down (daemonized grandchildren included), output floods, set-up failures,
// and descriptors that must not leak in. Real bubblewrap throughout.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { expect } from 'chai';
import { DEFAULT_SANDBOX_LIMITS, cgroupStatus, cutNotes, runSandboxed, type Sandbox, type SandboxRun } from '../../../capabilities/sandbox/index.js';
import { hostPidsRunning, hostProcessAlive, planFor, removeWorkspace, requireSandbox, tempWorkspace } from './fixture.js';

/** Runs `run()` while polling the host for processes whose command line holds `words`; returns every pid seen. */
async function watchingFor(words: string[], run: () => Promise<SandboxRun>): Promise<{ run: SandboxRun; pids: number[] }> {
  const seen = new Set<number>();
  const poll = setInterval(() => hostPidsRunning(words).forEach((pid) => seen.add(pid)), 20);
  try {
    return { run: await run(), pids: [...seen] };
  } finally {
    clearInterval(poll);
  }
}

/** Pids of `words` seen while running, per set of words. */
async function watchingForEach(sets: string[][], run: () => Promise<SandboxRun>): Promise<{ run: SandboxRun; pids: number[][] }> {
  const seen = sets.map(() => new Set<number>());
  const poll = setInterval(() => sets.forEach((words, i) => hostPidsRunning(words).forEach((pid) => seen[i]!.add(pid))), 20);
  try {
    return { run: await run(), pids: seen.map((set) => [...set]) };
  } finally {
    clearInterval(poll);
  }
}

describe('sandbox lifecycle (real bubblewrap)', function () {
  let sandbox: Sandbox;
  let ws: string;

  before(async function () {
    sandbox = await requireSandbox(this);
  });
  beforeEach(() => {
    ws = tempWorkspace({ 'src/': '' });
  });
  afterEach(() => removeWorkspace(ws));

  it('reports the exit code, output and duration of a command that ends by itself', async () => {
    const run = await runSandboxed(sandbox, planFor(ws, ['sh', '-c', 'echo out; echo err >&2; exit 7']));
    expect(run).to.deep.include({ exitCode: 7, signal: null, stoppedBy: null, setupError: null, warnings: [] });
    expect(run.stdout).to.deep.equal({ text: 'out\n', totalBytes: 4, cutBytes: 0 });
    expect(run.stderr).to.deep.equal({ text: 'err\n', totalBytes: 4, cutBytes: 0 });
    expect(run.durationMs).to.be.a('number').and.at.least(0);
  });

  it('reports a command that died of a signal inside as 128 + the signal', async () => {
    const run = await runSandboxed(sandbox, planFor(ws, ['sh', '-c', 'kill -9 $$']));
    expect(run).to.deep.include({ exitCode: 137, stoppedBy: null, setupError: null });
  });

  it('kills the whole tree at the timeout, daemonized and orphaned grandchildren included', async () => {
    const mark = `1000.${crypto.randomInt(1e9)}`;
    const orphanMark = `1001.${crypto.randomInt(1e9)}`;
    const script = `
      const { spawn } = require('child_process');
      spawn('sleep', ['${mark}'], { detached: true, stdio: 'ignore' }).unref();  // own session, like setsid
      spawn('sh', ['-c', 'sleep ${orphanMark} &'], { stdio: 'ignore' });        // reparented to the sandbox init
      process.on('SIGTERM', () => {});                                            // ignores a polite stop
      setInterval(() => {}, 1000);`;
    const { run, pids } = await watchingForEach([['sleep', mark], ['sleep', orphanMark]], () =>
      runSandboxed(sandbox, planFor(ws, ['node', '-e', script]), { limits: { timeoutMs: 1500 } }),
    );
    expect(run).to.deep.include({ stoppedBy: 'timeout', exitCode: null, setupError: null, warnings: [] });
    for (const [i, seen] of pids.entries()) {
      expect(seen, `grandchild ${i} was seen running on the host`).to.have.length(1);
      expect(hostProcessAlive(seen[0]!), `grandchild ${i}, pid ${seen[0]}`).to.equal(false);
    }
  });

  it('leaves no daemon behind when the command exits by itself', async () => {
    const mark = `1002.${crypto.randomInt(1e9)}`;
    const script = `require('child_process').spawn('sleep', ['${mark}'], { detached: true, stdio: 'ignore' }).unref();
      setTimeout(() => process.exit(0), 300);`;
    const { run, pids } = await watchingFor(['sleep', mark], () => runSandboxed(sandbox, planFor(ws, ['node', '-e', script])));
    expect(run).to.deep.include({ exitCode: 0, stoppedBy: null });
    expect(pids, 'the daemon was seen running on the host').to.have.length(1);
    expect(hostProcessAlive(pids[0]!)).to.equal(false);
  });

  it('stops the command when the abort signal fires (Ctrl-C)', async () => {
    const controller = new AbortController();
    const mark = `1003.${crypto.randomInt(1e9)}`;
    setTimeout(() => controller.abort(), 300);
    const { run, pids } = await watchingFor(['sleep', mark], () =>
      runSandboxed(sandbox, planFor(ws, ['sleep', mark]), { signal: controller.signal }),
    );
    expect(run).to.deep.include({ stoppedBy: 'abort', exitCode: null, setupError: null });
    expect(run.signal).to.be.oneOf(['SIGTERM', 'SIGKILL']);
    // sleep itself, and bubblewrap with its init (their command lines end with the command's).
    expect(pids).to.have.length.of.at.least(1);
    for (const pid of pids) expect(hostProcessAlive(pid), `pid ${pid}`).to.equal(false);
  });

  it('does not start at all when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const run = await runSandboxed(sandbox, planFor(ws, ['sh', '-c', 'echo ran > src/ran']), { signal: controller.signal });
    expect(run).to.deep.include({ stoppedBy: 'abort', exitCode: null });
    expect(fs.existsSync(path.join(ws, 'src/ran'))).to.equal(false);
  });

  describe('process and memory limits (a cgroup per command)', () => {
    before(async function () {
      const status = await cgroupStatus(DEFAULT_SANDBOX_LIMITS);
      if (status.startsWith('no process')) {
        console.log(`      (skipped: ${status})`);
        this.skip();
      }
    });

    it('a fork bomb fails inside its sandbox at the process limit, and nothing of it outlives the command', async () => {
      // 400 sleepers at once: past the limit, fork fails inside (EAGAIN) and the command goes on to report.
      const bomb = `const { spawn } = require('child_process'); let ok = 0, failed = 0, pending = 400;
        const done = () => { if (--pending === 0) { console.log(JSON.stringify({ ok, failed })); process.exit(0); } };
        for (let i = 0; i < 400; i++) { const c = spawn('sleep', ['30'], { stdio: 'ignore' }); c.on('spawn', () => { ok++; done(); }); c.on('error', () => { failed++; done(); }); }`;
      const { run, pids } = await watchingFor(['sleep', '30'], () =>
        runSandboxed(sandbox, planFor(ws, [process.execPath, '-e', bomb]), { limits: { maxProcesses: 40, timeoutMs: 20_000 } }));
      expect(run.setupError).to.equal(null);
      expect(run.exitCode, run.stderr.text).to.equal(0);
      const { ok, failed } = JSON.parse(run.stdout.text) as { ok: number; failed: number };
      expect(ok).to.be.greaterThan(0).and.below(40); // node's own threads count too
      expect(failed).to.equal(400 - ok);
      expect(pids.length).to.be.at.most(40);
      expect(pids.filter(hostProcessAlive)).to.deep.equal([]);
    });

    it('a command that takes more memory than its limit is killed, and the broker goes on', async () => {
      const hog = 'const b = []; for (let i = 0; i < 64; i++) b.push(Buffer.alloc(16 * 1024 * 1024, 1)); console.log("survived");';
      const run = await runSandboxed(sandbox, planFor(ws, [process.execPath, '-e', hog]), { limits: { maxMemoryMb: 256 } });
      expect(run.setupError).to.equal(null);
      expect(run.stdout.text).to.not.include('survived');
      expect(run.exitCode).to.equal(137);
    });

    it('leaves no cgroup behind, and removes one a killed broker left', async () => {
      const own = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('pids'));
      // cgroup v1 here (v2 goes through the same code with one hierarchy)
      const dir = own === undefined ? null : path.join('/sys/fs/cgroup/pids', own.split(':').slice(2).join(':'));
      // pid 2^22 - 1: above any pid this kernel hands out by default, so its broker is gone.
      if (dir !== null) fs.mkdirSync(path.join(dir, 'choragen-4194303-1'));
      await runSandboxed(sandbox, planFor(ws, ['true']));
      if (dir === null) return;
      expect(fs.readdirSync(dir).filter((n) => n.startsWith(`choragen-${process.pid}-`) || n.startsWith('choragen-4194303-'))).to.deep.equal([]);
    });
  });

  describe('a 100 MB output flood', () => {
    const FLOOD = `
      const chunk = Buffer.alloc(1 << 20, 'x'); let n = 0;
      (function write() {
        while (n < 100) { n++; if (!process.stdout.write(chunk)) return process.stdout.once('drain', write); }
        process.stdout.write('\\nEND-OF-FLOOD\\n');
      })();`;

    it('keeps only the tail in bounded memory when the command finishes', async () => {
      // Collect before each sample, so the figure is what is still held, not garbage not yet freed.
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      let most = 0;
      gc();
      const base = process.memoryUsage().arrayBuffers;
      const sample = setInterval(() => {
        gc();
        most = Math.max(most, process.memoryUsage().arrayBuffers - base);
      }, 100);
      let run: SandboxRun;
      try {
        run = await runSandboxed(sandbox, planFor(ws, ['node', '-e', FLOOD]), {
          limits: { outputCapBytes: 1024 * 1024, outputLimitBytes: 256 * 1024 * 1024 },
        });
      } finally {
        clearInterval(sample);
      }
      expect(run).to.deep.include({ exitCode: 0, stoppedBy: null });
      expect(run.stdout.totalBytes).to.equal(100 * 1024 * 1024 + '\nEND-OF-FLOOD\n'.length);
      expect(Buffer.byteLength(run.stdout.text)).to.equal(1024 * 1024);
      expect(run.stdout.text.endsWith('x\nEND-OF-FLOOD\n')).to.equal(true);
      expect(cutNotes({ stdout: run.stdout })).to.deep.equal([
        `stdout: the first ${run.stdout.totalBytes - 1024 * 1024} of ${run.stdout.totalBytes} bytes were cut; the last 1048576 are shown`,
      ]);
      // Holding the flood would take 100 MB; the tail and the chunks in flight take a fraction.
      expect(most).to.be.below(50 * 1024 * 1024);
    });

    it('kills the command once the output limit is passed, keeping the tail read so far', async () => {
      const run = await runSandboxed(sandbox, planFor(ws, ['node', '-e', FLOOD]), {
        limits: { outputCapBytes: 4096, outputLimitBytes: 8 * 1024 * 1024 },
      });
      expect(run).to.deep.include({ stoppedBy: 'output-limit', exitCode: null, setupError: null });
      expect(run.stdout.totalBytes).to.be.above(8 * 1024 * 1024).and.below(100 * 1024 * 1024);
      expect(run.stdout.text).to.equal('x'.repeat(4096));
    });
  });

  describe('set-up failures (the command does not run)', () => {
    it('a command that does not exist in the sandbox', async () => {
      const run = await runSandboxed(sandbox, planFor(ws, ['no-such-command-here']));
      expect(run.exitCode).to.equal(null);
      expect(run.setupError).to.match(/^bwrap: execvp no-such-command-here: No such file or directory/);
    });

    it('a planned path that no longer exists', async () => {
      const run = await runSandboxed(sandbox, planFor(ws, ['true'], { hidden: [{ path: path.join(ws, '.env'), kind: 'file' }] }));
      expect(run).to.deep.include({ exitCode: null, durationMs: 0 });
      expect(run.setupError).to.equal(`hidden path ${path.join(ws, '.env')} cannot be used (ENOENT)`);
    });

    it('a writable path that is a symlink (it could point anywhere when mounted)', async () => {
      fs.symlinkSync('/etc', path.join(ws, 'etc-link'));
      const run = await runSandboxed(
        sandbox,
        planFor(ws, ['sh', '-c', 'echo x > etc-link/owned'], { writable: [path.join(ws, 'etc-link')] }),
      );
      expect(run.setupError).to.equal(`writable path ${path.join(ws, 'etc-link')} is a symlink or goes through one`);
      expect(fs.existsSync('/etc/owned')).to.equal(false);
    });

    it('a hidden directory planned as a file', async () => {
      const run = await runSandboxed(sandbox, planFor(ws, ['true'], { hidden: [{ path: path.join(ws, 'src'), kind: 'file' }] }));
      expect(run.setupError).to.match(/is a directory, planned as a file/);
    });
  });

  it('covers descriptors the broker inherited, so the command cannot write through them', async function () {
    // A bash redirection leaves fd 40 open across exec (no close-on-exec), as a terminal
    // multiplexer or CI harness may leave one to the broker. (dash cannot redirect fds above 9,
    // and node marks the low ones close-on-exec itself.)
    if (!fs.existsSync('/bin/bash')) this.skip();
    const child = fileURLToPath(new URL('./fd-leak-child.js', import.meta.url));
    const leakFile = path.join(ws, 'leak.txt');
    const proc = spawn('/bin/bash', ['-c', 'exec "$0" "$1" 40>>"$2"', process.execPath, child, leakFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise((resolve) => proc.on('close', resolve));
    expect(stderr).to.equal('');
    const { inherited, run } = JSON.parse(stdout) as { inherited: number[]; run: SandboxRun };
    expect(inherited, 'the broker process holds the descriptor').to.include(40);
    const inside = JSON.parse(run.stdout.text) as { fds: Record<string, string>; wrote: string };
    expect(inside.fds['40']).to.equal('/dev/null');
    expect(inside.wrote).to.equal('EBADF'); // /dev/null opened for reading
    expect(fs.readFileSync(leakFile, 'utf8')).to.equal('');
  });
});
