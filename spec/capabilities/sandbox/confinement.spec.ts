// Attacks from inside the real sandbox: a small node script tries what a
// hostile test file would, and the spec checks both what the script saw and
// what the host disk holds afterwards.

import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { runSandboxed, type Sandbox, type SandboxPlan, type SandboxRun } from '../../../capabilities/sandbox/index.js';
import { planFor, removeWorkspace, requireSandbox, tempWorkspace } from './fixture.js';

const ENV_SECRET = 'DOTENV_SECRET_VALUE_7c1';
const KEY_SECRET = 'PRIVATE_KEY_VALUE_93a';
const HOOK = '#!/bin/sh\necho original hook\n';
const POLICY = 'mutations:\n  allow: [{ pattern: "src/**" }]\n';

/** Runs `script` with `node -e` in the sandbox and parses the JSON it prints last. */
async function attack(
  sandbox: Sandbox,
  plan: SandboxPlan,
  script: string,
  args: string[] = [],
): Promise<{ run: SandboxRun; seen: Record<string, unknown> }> {
  const run = await runSandboxed(sandbox, { ...plan, argv: ['node', '-e', script, '--', ...args] }, { limits: { timeoutMs: 20_000 } });
  expect(run.setupError, run.stderr.text).to.equal(null);
  expect(run.exitCode, run.stderr.text).to.equal(0);
  const lines = run.stdout.text.trim().split('\n');
  return { run, seen: JSON.parse(lines[lines.length - 1]!) as Record<string, unknown> };
}

/** A script that tries `fs.<op>` on each target and reports `done` or the error code. */
function tryEach(op: string, targets: string[], extra = ''): string {
  return `
    const fs = require('fs'); const seen = {};
    for (const t of ${JSON.stringify(targets)}) {
      try { ${op}; seen[t] = 'done'; } catch (e) { seen[t] = e.code || String(e); }
    }
    ${extra}
    console.log(JSON.stringify(seen));`;
}

describe('sandbox confinement (real bubblewrap)', function () {
  let sandbox: Sandbox;
  let ws: string;
  let plan: SandboxPlan;
  const id = crypto.randomBytes(6).toString('hex');

  before(async function () {
    sandbox = await requireSandbox(this);
  });

  beforeEach(() => {
    ws = tempWorkspace({
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.git/hooks/pre-commit': HOOK,
      '.choragen/state.json': '{}',
      'choragen.governance.yaml': POLICY,
      'package.json': '{"name":"victim"}',
      '.env': `TOKEN=${ENV_SECRET}\n`,
      'secrets/prod.key': KEY_SECRET,
      'src/index.js': 'module.exports = 1;\n',
      'test/': '',
    });
    const at = (rel: string) => path.join(ws, rel);
    // The worst case: the whole workspace writable, with the protected and denied paths carved out.
    plan = planFor(ws, ['true'], {
      writable: [ws],
      readOnly: [at('.git'), at('.choragen'), at('choragen.governance.yaml'), at('package.json')],
      hidden: [
        { path: at('.env'), kind: 'file' },
        { path: at('secrets'), kind: 'dir' },
      ],
    });
  });

  afterEach(() => removeWorkspace(ws));

  it('lets the command write where the plan allows, and runs node', async () => {
    const narrow = { ...plan, writable: [path.join(ws, 'src'), path.join(ws, 'test')] };
    const { seen } = await attack(
      sandbox,
      narrow,
      tryEach("fs.writeFileSync(t, 'made inside')", ['src/new.js', 'test/out.txt', 'outside-src.txt'], 'seen.node = process.version;'),
    );
    expect(seen).to.deep.equal({
      'src/new.js': 'done',
      'test/out.txt': 'done',
      'outside-src.txt': 'EROFS',
      node: process.version,
    });
    expect(fs.readFileSync(path.join(ws, 'src/new.js'), 'utf8')).to.equal('made inside');
    expect(fs.readFileSync(path.join(ws, 'test/out.txt'), 'utf8')).to.equal('made inside');
    expect(fs.existsSync(path.join(ws, 'outside-src.txt'))).to.equal(false);
  });

  it('cannot write anywhere outside the workspace: /etc, /usr, /root, the host /tmp, /var/tmp, the parent directory', async () => {
    const parent = path.dirname(ws);
    const targets = [
      `/etc/choragen-attack-${id}`,
      `/usr/bin/choragen-attack-${id}`,
      `/root/choragen-attack-${id}`,
      `/tmp/choragen-attack-${id}`,
      `/var/tmp/choragen-attack-${id}`,
      `${parent}/choragen-attack-${id}`,
    ];
    const { seen } = await attack(sandbox, plan, tryEach("fs.writeFileSync(t, 'x')", targets));
    for (const target of targets) {
      expect(seen[target], target).to.be.oneOf(['EROFS', 'ENOENT', 'EACCES']);
      expect(fs.existsSync(target), `${target} on the host`).to.equal(false);
    }
  });

  it('cannot change .git (hooks included), .choragen, the policy file or a write-denied file, by any route', async () => {
    const attempts = `
      const fs = require('fs'); const seen = {};
      const tryIt = (name, fn) => { try { fn(); seen[name] = 'done'; } catch (e) { seen[name] = e.code || String(e); } };
      tryIt('overwrite hook', () => fs.writeFileSync('.git/hooks/pre-commit', '#!/bin/sh\\ncurl evil\\n'));
      tryIt('new hook', () => fs.writeFileSync('.git/hooks/post-checkout', 'evil'));
      tryIt('git config', () => fs.appendFileSync('.git/config', '[core]\\n\\thooksPath = /tmp\\n'));
      tryIt('choragen state', () => fs.writeFileSync('.choragen/x', 'evil'));
      tryIt('policy overwrite', () => fs.writeFileSync('choragen.governance.yaml', 'allow everything'));
      tryIt('policy delete', () => fs.unlinkSync('choragen.governance.yaml'));
      tryIt('policy replace by rename', () => { fs.writeFileSync('p.tmp', 'evil'); fs.renameSync('p.tmp', 'choragen.governance.yaml'); });
      tryIt('git dir rename', () => fs.renameSync('.git', 'git-moved'));
      tryIt('git dir delete', () => fs.rmSync('.git', { recursive: true }));
      tryIt('denied file', () => fs.writeFileSync('package.json', '{"scripts":{"postinstall":"evil"}}'));
      tryIt('denied file chmod', () => fs.chmodSync('package.json', 0o777));
      console.log(JSON.stringify(seen));`;
    const { seen } = await attack(sandbox, plan, attempts);
    for (const [name, outcome] of Object.entries(seen)) {
      expect(outcome, name).to.be.oneOf(['EROFS', 'EBUSY', 'EPERM', 'EACCES']);
    }
    expect(Object.keys(seen)).to.have.length(11);
    expect(fs.readFileSync(path.join(ws, '.git/hooks/pre-commit'), 'utf8')).to.equal(HOOK);
    expect(fs.readdirSync(path.join(ws, '.git/hooks'))).to.deep.equal(['pre-commit']);
    expect(fs.existsSync(path.join(ws, '.git/config'))).to.equal(false);
    expect(fs.readdirSync(path.join(ws, '.choragen'))).to.deep.equal(['state.json']);
    expect(fs.readFileSync(path.join(ws, 'choragen.governance.yaml'), 'utf8')).to.equal(POLICY);
    expect(fs.readFileSync(path.join(ws, 'package.json'), 'utf8')).to.equal('{"name":"victim"}');
    expect(fs.statSync(path.join(ws, 'package.json')).mode & 0o777).to.equal(0o644);
  });

  describe('with secrets on the host', () => {
    const rootSecret = `/root/.choragen-spec-secret-${id}`;
    const tmpSecret = `/tmp/choragen-spec-secret-${id}`;
    const ROOT_SECRET = `ROOT_SECRET_${id}`;
    /** Only root can plant a file in /root; the other cases run for any user. */
    let rootWritable = false;
    before(() => {
      try {
        fs.writeFileSync(rootSecret, ROOT_SECRET);
        rootWritable = true;
      } catch {
        rootWritable = false;
      }
      fs.writeFileSync(tmpSecret, ROOT_SECRET);
    });
    after(() => {
      fs.rmSync(rootSecret, { force: true });
      fs.rmSync(tmpSecret, { force: true });
    });

    it('cannot read hidden files, hidden directories, homes, the host /tmp or /etc/shadow', async () => {
      const reads = `
        const fs = require('fs'); const seen = {};
        const tryIt = (name, fn) => { try { seen[name] = fn(); } catch (e) { seen[name] = e.code || String(e); } };
        tryIt('.env', () => fs.readFileSync('.env', 'utf8'));
        tryIt('secrets/', () => fs.readdirSync('secrets'));
        tryIt('secrets/prod.key', () => fs.readFileSync('secrets/prod.key', 'utf8'));
        tryIt('root secret', () => fs.readFileSync(${JSON.stringify(rootSecret)}, 'utf8'));
        tryIt('/root', () => fs.readdirSync('/root'));
        tryIt('/home', () => fs.readdirSync('/home'));
        tryIt('host tmp secret', () => fs.readFileSync(${JSON.stringify(tmpSecret)}, 'utf8'));
        tryIt('/etc/shadow', () => fs.readFileSync('/etc/shadow', 'utf8'));
        tryIt('/run', () => fs.readdirSync('/run'));
        console.log(JSON.stringify(seen));`;
      const { run, seen } = await attack(sandbox, plan, reads);
      expect(seen['.env']).to.equal('');
      expect(seen['secrets/']).to.deep.equal([]);
      expect(seen['secrets/prod.key']).to.equal('ENOENT');
      if (rootWritable) expect(seen['root secret']).to.equal('ENOENT');
      if (fs.existsSync('/root')) expect(seen['/root']).to.deep.equal([]);
      expect(seen['/home']).to.deep.equal([]);
      expect(seen['host tmp secret']).to.equal('ENOENT');
      if (fs.existsSync('/etc/shadow')) expect(seen['/etc/shadow']).to.equal('');
      if (fs.existsSync('/run')) expect(seen['/run']).to.deep.equal([]);
      const everything = JSON.stringify(run);
      for (const secret of [ENV_SECRET, KEY_SECRET, ROOT_SECRET]) expect(everything).not.to.include(secret);
      expect(fs.readFileSync(path.join(ws, '.env'), 'utf8')).to.equal(`TOKEN=${ENV_SECRET}\n`);
    });

    it('shows the workspace under a hidden home with the rest of the home still hidden', async function () {
      if (!rootWritable) this.skip();
      const homeWs = tempWorkspace({ 'src/a.js': 'a' }, '/root');
      try {
        const homePlan = planFor(homeWs, ['true'], { writable: [path.join(homeWs, 'src')] });
        const { seen } = await attack(
          sandbox,
          homePlan,
          tryEach("fs.writeFileSync(t, 'x')", ['src/b.js', 'c.js'], `
            seen.root = fs.readdirSync('/root');
            try { seen.secret = fs.readFileSync(${JSON.stringify(rootSecret)}, 'utf8'); } catch (e) { seen.secret = e.code; }`),
        );
        expect(seen).to.deep.equal({ 'src/b.js': 'done', 'c.js': 'EROFS', root: [path.basename(homeWs)], secret: 'ENOENT' });
        expect(fs.readFileSync(path.join(homeWs, 'src/b.js'), 'utf8')).to.equal('x');
      } finally {
        removeWorkspace(homeWs);
      }
    });
  });

  it('shows a workspace in a top-level directory of its own (a /work, a /data) without the projects beside it', async function () {
    const top = `/choragen-spec-${id}`;
    try {
      fs.mkdirSync(path.join(top, 'other'), { recursive: true });
    } catch {
      this.skip(); // not root: the root directory takes no new entries
    }
    try {
      fs.writeFileSync(path.join(top, 'other', 'secret.txt'), KEY_SECRET);
      const topWs = tempWorkspace({ 'src/a.js': 'a' }, top);
      const { seen } = await attack(
        sandbox,
        planFor(topWs, ['true'], { writable: [path.join(topWs, 'src')] }),
        tryEach("fs.writeFileSync(t, 'x')", ['src/b.js'], `
          seen.top = fs.readdirSync(${JSON.stringify(top)});
          try { seen.secret = fs.readFileSync(${JSON.stringify(path.join(top, 'other', 'secret.txt'))}, 'utf8'); } catch (e) { seen.secret = e.code; }`),
      );
      expect(seen).to.deep.equal({ 'src/b.js': 'done', top: [path.basename(topWs)], secret: 'ENOENT' });
    } finally {
      fs.rmSync(top, { recursive: true, force: true });
    }
  });

  it("has a private, read-only /tmp, and its own writable TMPDIR and HOME, removed afterwards", async () => {
    const script = `
      const fs = require('fs'); const seen = {};
      const tryIt = (name, fn) => { try { seen[name] = fn() ?? 'done'; } catch (e) { seen[name] = e.code || String(e); } };
      tryIt('/tmp', () => fs.readdirSync('/tmp'));
      tryIt('write /tmp', () => fs.writeFileSync('/tmp/x', 'x'));
      tryIt('write TMPDIR', () => fs.writeFileSync(process.env.TMPDIR + '/t', 'x'));
      tryIt('write HOME', () => { fs.mkdirSync(process.env.HOME + '/.npm/_logs', { recursive: true }); });
      const mount = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\\n').find((l) => l.split(' ')[4] === process.env.TMPDIR);
      seen.hostTmpdir = mount.split(' ')[3];
      console.log(JSON.stringify(seen));`;
    const { seen } = await attack(sandbox, plan, script);
    const tmpListing = seen['/tmp'] as string[];
    expect(tmpListing).to.include('choragen-sandbox');
    expect(tmpListing.every((name) => name === 'choragen-sandbox' || ws.startsWith(`/tmp/${name}`))).to.equal(true);
    expect(seen['write /tmp']).to.equal('EROFS');
    expect(seen['write TMPDIR']).to.equal('done');
    expect(seen['write HOME']).to.equal('done');
    const hostTmpdir = seen['hostTmpdir'] as string;
    expect(hostTmpdir).to.match(/choragen-sandbox-.+\/tmp$/);
    expect(fs.existsSync(path.dirname(hostTmpdir)), 'the scratch directory is removed').to.equal(false);
  });

  it('gives the command only PATH, HOME, TMPDIR and PWD, and nothing of the broker environment anywhere in /proc', async () => {
    const secret = `sk-ant-spec-${crypto.randomBytes(8).toString('hex')}`;
    process.env['CHORAGEN_SANDBOX_SPEC_SECRET'] = secret;
    try {
      const script = `
        const fs = require('fs'); const seen = { env: process.env, proc: {} };
        for (const pid of fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n))) {
          for (const f of ['environ', 'cmdline']) {
            try { seen.proc[pid + '/' + f] = fs.readFileSync('/proc/' + pid + '/' + f, 'latin1'); }
            catch (e) { seen.proc[pid + '/' + f] = e.code; }
          }
        }
        console.log(JSON.stringify(seen));`;
      const { run, seen } = await attack(sandbox, plan, script);
      expect(Object.keys(seen['env'] as object).sort()).to.deep.equal(['HOME', 'PATH', 'PWD', 'TMPDIR']);
      const proc = seen['proc'] as Record<string, string>;
      expect(proc['1/environ'], "bubblewrap's own environment").to.equal('');
      expect(proc['1/cmdline']).to.include('bwrap');
      expect(Object.keys(proc).length, 'only the sandbox processes are visible').to.be.below(20);
      expect(JSON.stringify(run)).not.to.include(secret);
    } finally {
      delete process.env['CHORAGEN_SANDBOX_SPEC_SECRET'];
    }
  });

  it("cannot reach the network: not the host's loopback, not its other addresses", async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      connections++;
      socket.end('hello from the host\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
    const hosts = ['127.0.0.1', 'localhost', ...(external === undefined ? [] : [external])];
    try {
      const script = `
        const net = require('net'); const fs = require('fs'); const seen = {};
        const hosts = JSON.parse(process.argv[1]); const port = Number(process.argv[2]);
        (async () => {
          for (const host of hosts) {
            seen[host] = await new Promise((resolve) => {
              const s = net.connect({ host, port, timeout: 3000 });
              s.on('connect', () => { s.destroy(); resolve('connected'); });
              s.on('error', (e) => resolve(e.code));
              s.on('timeout', () => { s.destroy(); resolve('timeout'); });
            });
          }
          seen.interfaces = fs.readFileSync('/proc/net/dev', 'utf8').split('\\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean);
          console.log(JSON.stringify(seen));
        })();`;
      const { seen } = await attack(sandbox, plan, script, [JSON.stringify(hosts), String(port)]);
      for (const host of hosts) expect(seen[host], host).to.be.oneOf(['ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL']);
      expect(seen['interfaces']).to.deep.equal(['lo']);
      expect(connections).to.equal(0);
    } finally {
      server.close();
    }
  });

  it('has no capabilities and cannot make a user namespace to get some', async () => {
    const script = `
      const fs = require('fs'); const { spawnSync } = require('child_process');
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      const caps = Object.fromEntries(status.split('\\n').filter((l) => l.startsWith('Cap')).map((l) => l.split(':\\t')));
      const unshare = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { encoding: 'utf8' });
      const mount = spawnSync('mount', ['-t', 'tmpfs', 'none', '.'], { encoding: 'utf8' });
      console.log(JSON.stringify({ caps, unshare: unshare.status, unshareErr: unshare.stderr, mount: mount.status }));`;
    const { seen } = await attack(sandbox, plan, script);
    const caps = seen['caps'] as Record<string, string>;
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(caps[set], set).to.match(/^0+$/);
    expect(seen['unshare']).to.not.equal(0);
    expect(seen['unshareErr']).to.match(/No space left on device|Operation not permitted/);
    expect(seen['mount']).to.not.equal(0);
  });
});
