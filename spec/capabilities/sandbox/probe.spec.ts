import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { probeSandbox, runSandboxed } from '../../../capabilities/sandbox/index.js';
import { TRUSTED_BWRAP_PATHS } from '../../../capabilities/sandbox/host.js';
import { Sandbox } from '../../../capabilities/sandbox/sandbox.js';
import { planFor, removeWorkspace, requireSandbox, tempWorkspace } from './fixture.js';

/** An executable shell script standing in for bwrap. */
function fakeBwrap(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

const VERSION_080 = 'if [ "$1" = "--version" ]; then echo "bubblewrap 0.8.0"; exit 0; fi';

describe('sandbox probe', () => {
  let dir: string;
  before(() => {
    dir = tempWorkspace();
  });
  after(() => removeWorkspace(dir));

  it('finds bubblewrap in a system directory, runs it with the real flags and says ok', async function () {
    const sandbox = await requireSandbox(this);
    expect(TRUSTED_BWRAP_PATHS).to.include(sandbox.bwrap);
    expect(sandbox.version).to.match(/^bubblewrap \d+\.\d+/);
  });

  it('caches the verdict, and probes again when asked', async function () {
    await requireSandbox(this);
    const first = probeSandbox();
    expect(probeSandbox()).to.equal(first);
    const again = probeSandbox({ fresh: true });
    expect(again).not.to.equal(first);
    expect((await again).ok).to.equal(true);
    expect(probeSandbox()).to.equal(again);
  });

  it('hands out a Sandbox only through the probe', async () => {
    expect(() => new Sandbox(Symbol('forged'), '/usr/bin/bwrap', 'bubblewrap 0.8.0')).to.throw(TypeError, /probeSandbox/);
    const forged = { bwrap: '/bin/sh', version: 'x' } as unknown as Sandbox;
    let error: unknown;
    try {
      await runSandboxed(forged, planFor(dir, ['true']));
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TypeError);
  });

  it('says how to install bubblewrap when it is missing', async () => {
    const verdict = await probeSandbox({ bwrapPath: path.join(dir, 'no-bwrap-here'), fresh: true });
    expect(verdict.ok).to.equal(false);
    if (!verdict.ok) expect(verdict.reason).to.match(/needs bubblewrap, which is not installed.*apt-get install bubblewrap/);
  });

  it('refuses a bubblewrap that does not confine the command (it ran it without a sandbox)', async () => {
    const passthrough = fakeBwrap(
      dir,
      'bwrap-passthrough',
      `${VERSION_080}
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  if [ "$1" = "--chdir" ]; then cd "$2"; fi
  shift
done
shift
"$@"; rc=$?
echo "{ \\"exit-code\\": $rc }" >&3
exit $rc`,
    );
    const verdict = await probeSandbox({ bwrapPath: passthrough, fresh: true });
    expect(verdict.ok).to.equal(false);
    if (!verdict.ok) expect(verdict.reason).to.match(/failed its self-test.*did not confine writes/);
  });

  it('explains blocked user namespaces', async () => {
    const blocked = fakeBwrap(
      dir,
      'bwrap-no-userns',
      `${VERSION_080}
echo "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces." >&2
exit 1`,
    );
    const verdict = await probeSandbox({ bwrapPath: blocked, fresh: true });
    expect(verdict.ok).to.equal(false);
    if (!verdict.ok) {
      expect(verdict.reason).to.match(/^bubblewrap cannot create the user namespace it needs: /);
      expect(verdict.reason).to.include('bwrap said: bwrap: No permissions');
    }
  });

  it('says an old bubblewrap is too old', async () => {
    const old = fakeBwrap(
      dir,
      'bwrap-old',
      `if [ "$1" = "--version" ]; then echo "bubblewrap 0.6.1"; exit 0; fi
echo "bwrap: Unknown option --disable-userns" >&2
exit 1`,
    );
    const verdict = await probeSandbox({ bwrapPath: old, fresh: true });
    expect(verdict).to.deep.include({ ok: false });
    if (!verdict.ok) expect(verdict.reason).to.match(/bubblewrap 0\.6\.1 .* too old/);
  });

  describe('a good verdict remembered for the next start', () => {
    let cacheHome: string;
    let saved: string | undefined;
    beforeEach(() => {
      cacheHome = tempWorkspace();
      saved = process.env.XDG_CACHE_HOME;
      process.env.XDG_CACHE_HOME = cacheHome;
    });
    afterEach(() => {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
      removeWorkspace(cacheHome);
    });
    const cacheFile = () => path.join(cacheHome, 'choragen', 'sandbox-verdicts.json');
    /** The verdict a new process (nothing cached in memory) gets for `bwrap`. */
    const verdictInNewProcess = (bwrap: string) => {
      const probe = new URL('../../../capabilities/sandbox/probe.js', import.meta.url).href;
      const script = `import(${JSON.stringify(probe)}).then((m) => m.probeSandbox({ bwrapPath: ${JSON.stringify(bwrap)} })).then((v) => console.log(v.ok ? v.sandbox.version : 'refused: ' + v.reason))`;
      return execFileSync(process.execPath, ['-e', script], { env: { ...process.env, XDG_CACHE_HOME: cacheHome }, encoding: 'utf8' }).trim();
    };

    it('a new process takes it without the self-test; a changed bwrap, an old entry or a sandbox that would not start sends it back to the probe', async function () {
      const real = await requireSandbox(this);
      // A copy of bwrap of our own, so this spec's entries are its own.
      const bwrap = path.join(dir, 'bwrap-copy');
      fs.copyFileSync(real.bwrap, bwrap);
      fs.chmodSync(bwrap, 0o755);
      const first = await probeSandbox({ bwrapPath: bwrap, fresh: true });
      expect(first.ok).to.equal(true);
      const entries = () => JSON.parse(fs.readFileSync(cacheFile(), 'utf8')) as Array<{ key: string; version: string; at: number }>;
      expect(entries()).to.have.length(1);
      // Mark the entry: a process that answers with the mark did not run the self-test.
      const mark = (change: (e: { key: string; version: string; at: number }) => void) => {
        const list = entries();
        list.forEach(change);
        fs.writeFileSync(cacheFile(), JSON.stringify(list));
      };
      mark((e) => (e.version = 'bubblewrap 0.8.0 (remembered)'));
      expect(verdictInNewProcess(bwrap)).to.equal('bubblewrap 0.8.0 (remembered)');
      // A day old: probed again, and remembered afresh.
      mark((e) => (e.at = Date.now() - 25 * 60 * 60 * 1000));
      expect(verdictInNewProcess(bwrap)).to.equal(real.version);
      expect(entries().map((e) => e.version)).to.deep.equal([real.version]);
      // Another binary at the same path: probed again.
      mark((e) => (e.version = 'bubblewrap 0.8.0 (remembered)'));
      fs.utimesSync(bwrap, new Date(), new Date(Date.now() - 3_600_000));
      expect(verdictInNewProcess(bwrap)).to.equal(real.version);
      // A command whose sandbox does not start: every entry is forgotten.
      const ws = tempWorkspace({ 'src/': '' });
      try {
        const run = await runSandboxed(first.ok ? first.sandbox : real, planFor(ws, ['true'], { writable: [path.join(ws, 'gone')] }));
        expect(run.setupError).to.be.a('string');
      } finally {
        removeWorkspace(ws);
      }
      expect(entries()).to.deep.equal([]);
    });

    it('remembers no refusal: a failing bubblewrap is probed, and diagnosed, every time', async () => {
      const blocked = fakeBwrap(dir, 'bwrap-blocked-again', `${VERSION_080}\necho "bwrap: No permissions to creating new namespace" >&2\nexit 1`);
      expect(verdictInNewProcess(blocked)).to.match(/^refused: bubblewrap cannot create the user namespace/);
      expect(fs.existsSync(cacheFile())).to.equal(false);
    });
  });

  it('refuses on macOS with the planned path, without looking for bubblewrap', async () => {
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { ...platform, value: 'darwin' });
    try {
      const verdict = await probeSandbox({ bwrapPath: '/usr/bin/bwrap', fresh: true });
      expect(verdict.ok).to.equal(false);
      if (!verdict.ok) expect(verdict.reason).to.match(/not supported on macOS yet.*sandbox-exec/);
    } finally {
      Object.defineProperty(process, 'platform', platform);
    }
  });
});
