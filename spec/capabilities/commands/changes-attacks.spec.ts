// The check after a command, against a command that means harm. It runs code
// the agent wrote, so before it exits it can plant symlinks, hard links,
// FIFOs, trees deeper than a path can name and names that are not UTF-8 in
// its writable areas, and leave a grandchild swapping a directory for a
// symlink to the host while the broker looks. The check must never follow a
// link out of the workspace: no chmod, no removal, no listing lands outside.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { checkChanges, type ChangeReport } from '../../../capabilities/commands/changes.js';
import { planCommand, type Decide } from '../../../capabilities/commands/plan.js';
import { defaultPathDirs } from '../../../capabilities/sandbox/plan.js';
import { runSandboxed } from '../../../capabilities/sandbox/run.js';
import { snapshotAreas, snapshotPlan, type SnapshotResult } from '../../../capabilities/sandbox/snapshot.js';
import { canonicalize, workspaceRoot } from '../../../policy/canonical.js';
import { writableBases } from '../../../policy/command-areas.js';
import { parsePolicy } from '../../../policy/load.js';
import { decideGuarded } from '../../../policy/protected-paths.js';
import { hostPidsRunning, hostProcessAlive, removeWorkspace, requireSandbox, tempWorkspace } from '../sandbox/fixture.js';

const POLICY = `
mutations:
  deny:
    - { pattern: "**/*.key", reason: "keys" }
reads:
  deny:
    - { pattern: "**/.env*" }
roles:
  impl:
    allow:
      - { pattern: "src/**", actions: [create, modify, delete] }
    deny:
      - { pattern: "src/d/keep*" }
`;
const policy = parsePolicy(POLICY, 'p.yaml');
const decide: Decide = (action, rel) => decideGuarded(policy, null, 'impl', action, rel);

/** Every entry below `dir`: type, mode, link count and content (links as their text). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (abs: string, rel: string) => {
    for (const name of fs.readdirSync(abs).sort()) {
      const child = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(child);
      if (st.isSymbolicLink()) out[r] = `link ${fs.readlinkSync(child)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
        if (st.mode & 0o100) visit(child, r);
      } else if (st.isFile()) out[r] = `file ${(st.mode & 0o7777).toString(8)} ${st.nlink} ${fs.readFileSync(child, 'base64')}`;
      else out[r] = `other ${(st.mode & 0o7777).toString(8)}`; // a FIFO is never opened
    }
  };
  visit(dir, '');
  return out;
}

interface Planted {
  setId: string[];
  keys: string[];
  /** Directories left mode 000, with a file inside. */
  locked: string[];
  /** Directories the role may not change. */
  kept?: string[];
}

/** What a command leaves in `dir`: set-ID files, keys, locked directories. */
function plant(dir: string, names: Planted): void {
  for (const n of names.setId) {
    fs.writeFileSync(path.join(dir, n), '#!/bin/sh\n');
    fs.chmodSync(path.join(dir, n), 0o4755);
  }
  for (const n of names.keys) fs.writeFileSync(path.join(dir, n), 'k');
  for (const n of names.locked) {
    fs.mkdirSync(path.join(dir, n));
    fs.writeFileSync(path.join(dir, n, 'inner'), 'k');
    fs.chmodSync(path.join(dir, n), 0o000);
  }
}

/** A victim outside the workspace: entries under the names the command plants. */
function makeVictim(names: Planted): string {
  const outside = tempWorkspace();
  plant(outside, names);
  for (const n of names.kept ?? []) fs.mkdirSync(path.join(outside, n), { mode: 0o700 });
  return outside;
}

/**
 * A host process that, while `flag` exists, swaps `dir` for a symlink to
 * `target` and back as fast as it can (saying so with `ack`), and leaves
 * `dir` a directory when the flag goes.
 */
class Swapper {
  private readonly child: ChildProcess;
  private readonly flag: string;
  private readonly ack: string;

  constructor(dir: string, target: string, scratch: string) {
    this.flag = path.join(scratch, 'swap');
    this.ack = path.join(scratch, 'swapping');
    const script = `const fs = require('fs'); const [dir, target, flag, ack] = process.argv.slice(1);
      const real = dir + '.real'; const nap = new Int32Array(new SharedArrayBuffer(4));
      const step = (f) => { try { f(); } catch {} };
      for (;;) {
        if (!fs.existsSync(flag)) { step(() => fs.unlinkSync(ack)); Atomics.wait(nap, 0, 0, 1); continue; }
        if (!fs.existsSync(ack)) fs.writeFileSync(ack, '');
        step(() => fs.renameSync(dir, real)); step(() => fs.symlinkSync(target, dir)); step(() => fs.unlinkSync(dir)); step(() => fs.renameSync(real, dir));
      }`;
    this.child = spawn(process.execPath, ['-e', script, dir, target, this.flag, this.ack], { stdio: 'ignore' });
  }

  private async until(done: () => boolean): Promise<void> {
    for (let waited = 0; !done(); waited++) {
      if (waited > 5000) throw new Error('the swapper does not answer');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Returns once it is swapping. */
  async start(): Promise<void> {
    fs.writeFileSync(this.flag, '');
    await this.until(() => fs.existsSync(this.ack));
  }

  /** Returns once it has stopped, the directory back in place. */
  async stop(): Promise<void> {
    fs.rmSync(this.flag, { force: true });
    await this.until(() => !fs.existsSync(this.ack));
  }

  async end(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

describe('run_command: the check after a hostile command', function () {
  this.timeout(60_000);
  let ws: string | undefined;
  let outside: string | undefined;
  afterEach(() => {
    for (const dir of [ws, outside]) if (dir !== undefined && fs.existsSync(dir)) fs.chmodSync(dir, 0o755);
    removeWorkspace(ws);
    removeWorkspace(outside);
    ws = outside = undefined;
  });

  /** Plants what `plant` makes in src/d between the two listings; `afterListing` runs once the second listing is taken. */
  async function checkAfter(plant: (ws: string) => void, afterListing: () => void | Promise<void>): Promise<ChangeReport> {
    const root = await workspaceRoot(ws!);
    const areas = [path.join(ws!, 'src')];
    const before = await snapshotAreas(root, areas);
    if (!before.ok) throw new Error(before.reason);
    plant(ws!);
    const snapshot = async (): Promise<SnapshotResult> => {
      const listed = await snapshotAreas(root, areas);
      await afterListing();
      return listed;
    };
    return checkChanges({ root, decide, before: before.snapshot, snapshot, links: new Map(), resolve: (rel) => canonicalize(ws!, rel) });
  }

  it('a directory swapped for a symlink to the host after the listing: no chmod, removal or reopening lands outside', async () => {
    const names = { setId: ['suid'], keys: ['stolen.key'], locked: ['locked'], kept: ['keep'] };
    ws = tempWorkspace({ 'src/a.ts': 'a', 'src/d/keep/': '' });
    fs.chmodSync(path.join(ws, 'src/d/keep'), 0o755);
    outside = makeVictim(names);
    const victim = tree(outside);
    const report = await checkAfter(
      (w) => {
        plant(path.join(w, 'src/d'), names);
        fs.writeFileSync(path.join(w, 'src/e.key'), 'k');
        fs.chmodSync(path.join(w, 'src/d/keep'), 0o777); // a directory the role may not change: put back
      },
      () => {
        // What a grandchild still alive would do once the broker has looked.
        fs.renameSync(path.join(ws!, 'src/d'), path.join(ws!, 'src/d.real'));
        fs.symlinkSync(outside!, path.join(ws!, 'src/d'));
        fs.rmSync(path.join(ws!, 'src/e.key'));
        fs.symlinkSync(outside!, path.join(ws!, 'src/e.key'));
      },
    );
    expect(tree(outside)).to.deep.equal(victim);
    // Not undone, and said so: the planted symlink is where the entries were.
    const refused = new Map(report.refused.map((r) => [r.rel, r]));
    expect(refused.get('src/d/suid')).to.deep.include({ undone: false });
    expect(refused.get('src/d/suid')!.why).to.match(/src\/d is a symlink; it is not followed/);
    expect(refused.get('src/d/stolen.key')).to.deep.include({ undone: false });
    expect(refused.get('src/d/keep')).to.deep.include({ kind: 'modified', undone: false });
    // The key swapped for a symlink is removed as what it now is: the link, never what it points to.
    expect(refused.get('src/e.key')).to.deep.include({ undone: true, how: 'removed' });
    expect(fs.existsSync(path.join(ws, 'src/e.key'))).to.equal(false);
  });

  it('a host process swapping the directory while the check runs: nothing outside is ever touched', async () => {
    const count = 40;
    const names = {
      setId: Array.from({ length: count }, (_, i) => `suid${i}`),
      keys: Array.from({ length: count }, (_, i) => `stolen${i}.key`),
      locked: Array.from({ length: count / 4 }, (_, i) => `locked${i}`),
      kept: Array.from({ length: count / 4 }, (_, i) => `keep${i}`),
    };
    ws = tempWorkspace({ 'src/a.ts': 'a' });
    outside = makeVictim(names);
    const victim = tree(outside);
    const d = path.join(ws, 'src/d');
    const swapper = new Swapper(d, outside, ws);
    try {
      for (let round = 0; round < 20; round++) {
        fs.rmSync(d, { recursive: true, force: true });
        fs.mkdirSync(d);
        for (const n of names.kept) fs.mkdirSync(path.join(d, n), { mode: 0o755 });
        try {
          await checkAfter(
            () => {
              plant(d, names);
              for (const n of names.kept) fs.chmodSync(path.join(d, n), 0o777);
            },
            () => swapper.start(),
          );
        } finally {
          await swapper.stop();
        }
        expect(tree(outside), `round ${round}`).to.deep.equal(victim);
      }
    } finally {
      await swapper.end();
    }
  });

  describe('with the real sandbox', () => {
    before(async function () {
      await requireSandbox(this);
    });

    it('plants links, hard links, a FIFO, a deep tree, odd names and a racing grandchild: the sandbox kills it first, and the check contains the rest', async function () {
      const sandbox = await requireSandbox(this);
      const marker = `choragen-racer-${crypto.randomInt(1e9)}`;
      const names = { setId: ['s0', 's1', 's0-hard'], keys: ['x.key'], locked: ['locked'] };
      ws = tempWorkspace({ 'src/a.ts': 'a', '.env': 'SECRET' });
      outside = makeVictim(names);
      const victim = tree(outside);
      // Runs inside the sandbox; OUTSIDE is a host path the sandbox does not even show, but a symlink's text can name it.
      const racer = `const fs = require('fs'); const [, out] = process.argv.slice(1);
        for (;;) { try { fs.renameSync('d', 'd.real'); fs.symlinkSync(out, 'd'); fs.unlinkSync('d'); fs.renameSync('d.real', 'd'); } catch {} }`;
      const script = `const fs = require('fs'); const cp = require('child_process');
        const [out, marker, racer] = process.argv.slice(1);
        process.chdir('src');
        fs.mkdirSync('d');
        for (const n of ['s0', 's1']) { fs.writeFileSync('d/' + n, '#!/bin/sh\\n'); fs.chmodSync('d/' + n, 0o4755); }
        fs.linkSync('d/s0', 'd/s0-hard');
        fs.writeFileSync('d/x.key', 'k');
        fs.mkdirSync('d/locked'); fs.writeFileSync('d/locked/in.key', 'k'); fs.chmodSync('d/locked', 0);
        fs.symlinkSync(out, 'out-link');
        fs.symlinkSync('../.env', 'env-link');
        cp.execFileSync('mkfifo', ['fifo']);
        fs.writeFileSync(Buffer.from([0x6f, 0x64, 0x64, 0xff, 0x2e, 0x6b, 0x65, 0x79]), 'odd');
        fs.mkdirSync(Buffer.from([0x62, 0x61, 0x64, 0xfe])); fs.writeFileSync(Buffer.from([0x62, 0x61, 0x64, 0xfe, 0x2f, 0x78]), 'x');
        const here = process.cwd(); fs.mkdirSync('deep'); process.chdir('deep');
        for (let i = 0; i < 300; i++) { fs.mkdirSync('a'); process.chdir('a'); }
        fs.writeFileSync('bottom.key', 'k');
        process.chdir(here);
        cp.spawn(process.execPath, ['-e', racer, marker, out], { detached: true, stdio: 'ignore' }).unref();
        setTimeout(() => process.exit(0), 300);`;
      const root = await workspaceRoot(ws);
      const planned = await planCommand({
        root, cwd: root, argv: ['node', '-e', script, outside, marker, racer], pathDirs: defaultPathDirs(ws), writableBases: writableBases(policy, 'impl'), decide,
      });
      if (!planned.ok) throw new Error(planned.reason);
      const { plan, links } = planned.value;
      const before = await snapshotPlan(root, plan);
      if (!before.ok) throw new Error(before.reason);

      const seen = new Set<number>();
      const poll = setInterval(() => hostPidsRunning([marker]).forEach((pid) => seen.add(pid)), 20);
      const run = await runSandboxed(sandbox, plan).finally(() => clearInterval(poll));
      expect(run, run.stderr.text).to.deep.include({ exitCode: 0, setupError: null, warnings: [] });
      // The racer ran, and the sandbox ended it with everything else before the broker looks.
      expect(seen.size, 'the racer was never seen running').to.be.greaterThan(0);
      expect([...seen, ...hostPidsRunning([marker])].filter(hostProcessAlive), 'the racer outlived the sandbox').to.deep.equal([]);

      const report = await checkChanges({
        root, decide, before: before.snapshot, snapshot: () => snapshotPlan(root, plan, 1_000_000), links, resolve: (rel) => canonicalize(ws!, rel),
      });
      const settled = tree(path.join(ws, 'src'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(tree(path.join(ws, 'src')), 'something still changes the workspace').to.deep.equal(settled);

      // Nothing outside was touched, whatever state the racer left src/d in.
      expect(tree(outside)).to.deep.equal(victim);
      const left = Object.entries(settled);
      expect(left.filter(([rel]) => rel.endsWith('.key')), 'keys left').to.deep.equal([]);
      expect(left.filter(([, what]) => /^file [4-7]\d{3} /.test(what)), 'set-ID files left').to.deep.equal([]);
      expect(left.filter(([, what]) => what === `link ${outside}`), 'links out left').to.deep.equal([]);
      expect(left.filter(([rel]) => rel.startsWith('env-link')), 'link to a secret left').to.deep.equal([]);
      expect(left.filter(([rel]) => rel.includes('\uFFFD')), 'odd names left').to.deep.equal([]);
      expect(fs.lstatSync(path.join(ws, 'src/fifo')).isFIFO()).to.equal(true); // stands: a FIFO is never opened
      const rules = new Set(report.refused.map((r) => r.decision.rule));
      for (const rule of ['builtin.name', 'builtin.unchecked', 'builtin.setid', 'mutations.deny[0]', 'path']) expect(rules, rule).to.include(rule);
      expect(report.refused.filter((r) => r.decision.rule === 'builtin.name').map((r) => r.rel).sort()).to.deep.equal(['src/bad\\xfe', 'src/odd\\xff.key']);
    });
  });
});
