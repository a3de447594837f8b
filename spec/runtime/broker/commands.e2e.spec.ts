// Attacks on run_command (issue 14), end to end: the real CLI, broker,
// workers and bubblewrap, a scripted model on the fake Anthropic server. An
// impl session whose policy allows only `node --test` tries commands that
// are not allowed, shells, wrappers, inline code and program path tricks,
// then runs tests that probe the sandbox from inside: writes outside what the
// role may change, reads of secrets, the network and the broker's loopback,
// the broker's environment, a grandchild left running past the timeout, an
// output flood. Everything is refused or contained; the disk is unchanged
// outside what the role may change; no secret reaches a tool result, the
// terminal or the audit log; control is not offered the tool; the audit verifies.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import git from 'isomorphic-git';
import { verifyAuditFile } from '../../../runtime/audit/verify.js';
import { type FakeServer, startFakeAnthropic } from '../../support/fake-anthropic.js';
import { jsonEvents, runCli, type CliResult } from '../../support/cli.js';
import { auditText, resultsOf } from '../../support/run-records.js';
import { hostPidsRunning, hostProcessAlive, requireSandbox } from '../../capabilities/sandbox/fixture.js';

const tag = Math.random().toString(36).slice(2, 10);
const SECRETS = {
  env: `ENV-SECRET-${tag}`,
  key: `KEY-SECRET-${tag}`,
  sibling: `SIBLING-SECRET-${tag}`,
  home: `HOME-SECRET-${tag}`,
  apiKey: `sk-ant-FAKE-${tag}`,
};
const GRANDCHILD = `choragen-grandchild-${tag}`;

const POLICY = `
mutations:
  deny:
    - { pattern: "**/.env*", reason: "secrets are never written" }
    - { pattern: ".git/**" }
    - { pattern: "**/*.key", reason: "key files hold secrets" }
    - { pattern: ".choragen/**" }
reads:
  deny:
    - { pattern: "**/.env*", reason: "secrets are never read" }
    - { pattern: "**/*.key" }
    - { pattern: ".choragen/**" }
roles:
  impl:
    allow:
      - { pattern: "**" }
    commands:
      allow:
        - { argv: ["node", "--test"], reason: "the project's tests" }
  control:
    allow:
      - { pattern: "docs/**" }
`;

/** A test that tries every escape from inside and prints what happened on one line. */
const PROBE_TEST = `
import test from 'node:test';
import fs from 'node:fs';
import net from 'node:net';
import dns from 'node:dns/promises';
import os from 'node:os';
import path from 'node:path';

const attempt = async (f) => { try { const v = await f(); return v === undefined ? 'ok' : v; } catch (e) { return 'ERR ' + (e.code || e.message); } };
const connect = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port, timeout: 2000 });
  s.on('connect', () => { s.destroy(); resolve('connected'); });
  s.on('timeout', () => { s.destroy(); resolve('ERR timeout'); });
  s.on('error', (e) => resolve('ERR ' + e.code));
});
const ws = process.cwd();
const { port } = JSON.parse(fs.readFileSync('port.json', 'utf8'));
const cfg = JSON.parse(fs.readFileSync('probe.json', 'utf8'));

test('probe the sandbox', async () => {
  const r = {};
  r.writeOutside = await attempt(() => fs.writeFileSync(path.join(ws, '..', 'escape.txt'), 'x'));
  r.writeEtc = await attempt(() => fs.writeFileSync('/etc/choragen-escape', 'x'));
  r.writeUsr = await attempt(() => fs.writeFileSync('/usr/local/choragen-escape', 'x'));
  r.writeHook = await attempt(() => fs.writeFileSync('.git/hooks/pre-commit', '#!/bin/sh\\necho pwned\\n', { mode: 0o755 }));
  r.removeGit = await attempt(() => fs.rmSync('.git', { recursive: true }));
  r.writePolicy = await attempt(() => fs.writeFileSync('choragen.governance.yaml', 'roles: {}\\n'));
  r.renamePolicy = await attempt(() => fs.renameSync('choragen.governance.yaml', 'src/policy.yaml'));
  r.writeRecords = await attempt(() => fs.writeFileSync('.choragen/audit/forged.jsonl', '{}\\n'));
  r.listRecords = await attempt(() => fs.readdirSync('.choragen').join(','));
  r.readEnv = await attempt(() => fs.readFileSync('.env', 'utf8'));
  r.writeEnv = await attempt(() => fs.writeFileSync('.env', 'API_TOKEN=mine'));
  r.readKey = await attempt(() => fs.readFileSync('secrets/server.key', 'utf8'));
  r.linkEnv = await attempt(() => fs.linkSync('.env', 'src/env-hardlink'));
  r.readEnvAlias = await attempt(() => fs.readFileSync('src/notes.txt', 'utf8'));
  r.readSibling = await attempt(() => fs.readFileSync(cfg.sibling, 'utf8'));
  r.readHome = await attempt(() => fs.readFileSync(cfg.home, 'utf8'));
  r.readShadow = await attempt(() => fs.readFileSync('/etc/shadow', 'utf8'));
  r.loopback = await connect('127.0.0.1', port);
  r.internet = await connect('1.1.1.1', 80);
  r.dns = await attempt(() => dns.lookup('example.com').then((a) => a.address));
  r.env = Object.keys(process.env).sort().join(',');
  r.procEnvirons = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).map((p) => { try { return fs.readFileSync('/proc/' + p + '/environ', 'utf8'); } catch { return ''; } }).join('\\n');
  r.homeWrite = await attempt(() => fs.writeFileSync(path.join(os.homedir(), 'home-file'), 'x'));
  r.writeSrc = await attempt(() => fs.writeFileSync('src/generated.txt', 'made by a test'));
  r.writeKey = await attempt(() => fs.writeFileSync('src/leak.key', 'a key the role may not create'));
  r.linkOut = await attempt(() => fs.symlinkSync('/etc/passwd', 'src/passwd-link'));
  r.setuid = await attempt(() => { fs.writeFileSync('src/suid', '#!/bin/sh\\n'); fs.chmodSync('src/suid', 0o4755); });
  // Only markers leave the sandbox: the spec checks for secrets itself.
  const leaked = Object.values(cfg.secrets).filter((s) => JSON.stringify(r).includes(s));
  r.leaked = leaked.length;
  delete r.procEnvirons;
  console.log('PROBE_RESULT ' + JSON.stringify(r));
});
`;

/** A test that leaves a detached grandchild running and never ends. */
const HANG_TEST = `
import test from 'node:test';
import { spawn } from 'node:child_process';
test('hang', async () => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '${GRANDCHILD}'], { detached: true, stdio: 'ignore' });
  child.unref();
  console.log('GRANDCHILD_STARTED');
  await new Promise(() => setInterval(() => {}, 1000));
});
`;

/** A test that writes far more output than anyone can read. */
const FLOOD_TEST = `
import test from 'node:test';
test('flood', async () => {
  const line = 'y'.repeat(1023) + '\\n';
  const chunk = line.repeat(1024);
  for (;;) {
    if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
  }
});
`;

const OK_TEST = `
import test from 'node:test';
import assert from 'node:assert/strict';
test('adds', () => assert.equal(1 + 1, 2));
`;

interface Layout { base: string; ws: string; homeSecret: string | null }

async function makeLayout(): Promise<Layout> {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-commands-')));
  const ws = path.join(base, 'ws');
  const files: Record<string, string> = {
    'choragen.governance.yaml': POLICY,
    '.env': `API_TOKEN=${SECRETS.env}\n`,
    'secrets/server.key': `${SECRETS.key}\n`,
    'src/index.js': 'export const x = 1;\n',
    'test/probe.test.mjs': PROBE_TEST,
    'test/hang.test.mjs': HANG_TEST,
    'test/flood.test.mjs': FLOOD_TEST,
    'test/ok.test.mjs': OK_TEST,
  };
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
    fs.writeFileSync(path.join(ws, rel), content);
  }
  fs.writeFileSync(path.join(base, 'outside-secret.txt'), `${SECRETS.sibling}\n`);
  // A hard link planted before the session: .env under another name.
  fs.linkSync(path.join(ws, '.env'), path.join(ws, 'src', 'notes.txt'));
  await git.init({ fs, dir: ws, defaultBranch: 'main' });
  fs.mkdirSync(path.join(ws, '.git', 'hooks'), { recursive: true });
  // A secret in the home directory of whoever runs the broker (hidden by the sandbox).
  const home = os.homedir();
  let homeSecret: string | null = null;
  if (/^\/(root|home)(\/|$)/.test(home)) {
    homeSecret = path.join(home, `.choragen-spec-secret-${tag}`);
    fs.writeFileSync(homeSecret, `${SECRETS.home}\n`);
  }
  fs.writeFileSync(path.join(ws, 'probe.json'), JSON.stringify({
    sibling: path.join(base, 'outside-secret.txt'),
    home: homeSecret ?? '/root/none',
    secrets: SECRETS,
  }));
  return { base, ws, homeSecret };
}

/** Every entry below `dir`: type, mode and content (links as their target); `.choragen` left out. */
function snapshot(dir: string, out: Record<string, string> = {}, rel = ''): Record<string, string> {
  for (const name of fs.readdirSync(dir).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (r === 'ws/.choragen') continue;
    const abs = path.join(dir, name);
    const st = fs.lstatSync(abs);
    if (st.isSymbolicLink()) out[r] = `link -> ${fs.readlinkSync(abs)}`;
    else if (st.isDirectory()) {
      out[r] = `dir ${st.mode.toString(8)}`;
      snapshot(abs, out, r);
    } else out[r] = `file ${st.mode.toString(8)} ${st.nlink} ${fs.readFileSync(abs).toString('base64')}`;
  }
  return out;
}

function expectNoSecret(where: string, text: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) expect(text.includes(secret), `the ${name} secret appears in ${where}`).to.equal(false);
}

let counter = 0;
const use = (input: unknown, name = 'run_command') => ({ type: 'tool_use', id: `toolu_c${counter++}`, name, input });

describe('run_command attacks, end to end (issue 14)', function () {
  this.timeout(60_000);
  let server: FakeServer | undefined;
  let lay: Layout | undefined;

  before(async function () {
    await requireSandbox(this);
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (lay) {
      fs.rmSync(lay.base, { recursive: true, force: true });
      if (lay.homeSecret) fs.rmSync(lay.homeSecret, { force: true });
    }
    lay = undefined;
  });

  const start = (role: string): Promise<CliResult> =>
    runCli(['agent:start', '--role', role, '-m', `commands ${role}`, '--json', '--no-record-commits', '-w', lay!.ws], {
      env: { ANTHROPIC_API_KEY: SECRETS.apiKey, ANTHROPIC_BASE_URL: server!.url },
    });

  it('impl: refuses what is not allowed; contains what runs; changes only what the role may; leaks nothing', async () => {
    lay = await makeLayout();
    const refused: Array<{ block: ReturnType<typeof use>; decision: string; rule: string }> = [];
    const refuse = (input: unknown, decision: string, rule: string) => refused.push({ block: use(input), decision, rule });
    refuse({ argv: ['npm', 'publish'] }, 'deny', 'default');
    refuse({ argv: ['rm', '-rf', '.git'] }, 'deny', 'default');
    refuse({ argv: ['node', 'test/probe.test.mjs'] }, 'deny', 'default');
    refuse({ argv: ['sh', '-c', 'cat .env'] }, 'deny', 'builtin.shell');
    refuse({ argv: ['/bin/sh'] }, 'deny', 'builtin.shell');
    refuse({ argv: ['bash', '-c', 'node --test'] }, 'deny', 'builtin.shell');
    refuse({ argv: ['busybox', 'sh', '-c', 'id'] }, 'deny', 'builtin.shell');
    refuse({ argv: ['env', 'node', '--test'] }, 'deny', 'builtin.wrapper');
    refuse({ argv: ['xargs', 'node'] }, 'deny', 'builtin.wrapper');
    refuse({ argv: ['nohup', 'node', '--test'] }, 'deny', 'builtin.wrapper');
    refuse({ argv: ['node', '-e', 'require("fs").writeFileSync("pwned", "x")'] }, 'deny', 'builtin.inline-code');
    refuse({ argv: ['node', '--test', '--eval', 'require("fs").writeFileSync("pwned", "x")'] }, 'deny', 'builtin.inline-code');
    refuse({ argv: ['node', '--test', '--import=data:text/javascript,process.exit(0)'] }, 'deny', 'builtin.inline-code');
    refuse({ argv: ['python3', '-c', 'print(1)'] }, 'deny', 'builtin.inline-code');
    refuse({ argv: ['npx', '-c', 'id'] }, 'deny', 'builtin.inline-code');
    refuse({ argv: ['npm', 'exec', '-c', 'id'] }, 'deny', 'builtin.inline-code');
    refuse({ argv: ['./node_modules/.bin/../../sh'] }, 'deny', 'builtin.program-path');
    refuse({ argv: ['/tmp/evil', '--test'] }, 'deny', 'builtin.program-path');
    refuse({ argv: ['node', '--test', 'a\u0000b'] }, 'deny', 'builtin.argv');
    refuse({ argv: ['node', '--test'], cwd: '..' }, 'deny', 'path');
    refuse({ argv: ['node', '--test'], cwd: '.choragen' }, 'deny', 'reads.deny[2]');
    refuse({ argv: [] }, 'invalid', 'schema');
    refuse({ argv: 'node --test' }, 'invalid', 'schema');
    refuse({ argv: ['node', '--test'], shell: true }, 'invalid', 'schema');
    refuse({ argv: ['node', '--test'], timeout_s: 99_999 }, 'invalid', 'schema');

    const probe = use({ argv: ['node', '--test', 'test/probe.test.mjs'] });
    const hang = use({ argv: ['node', '--test', 'test/hang.test.mjs'], timeout_s: 2 });
    const flood = use({ argv: ['node', '--test', 'test/flood.test.mjs'] });
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [
      { content: [...refused.map((r) => r.block), probe, hang, flood] },
      { content: [{ type: 'text', text: 'done' }] },
    ] }] } as any);
    fs.writeFileSync(path.join(lay.ws, 'port.json'), JSON.stringify({ port: Number(new URL(server.url).port) }));
    const before = snapshot(lay.base);
    const homeBefore = lay.homeSecret ? fs.readFileSync(lay.homeSecret, 'utf8') : null;

    const r = await start('impl');
    expect(r.code, r.stderr).to.equal(0);
    const results = resultsOf(server);
    const calls = new Map(jsonEvents(r.stdout).filter((e) => e.event === 'tool_call').map((e) => [e.tool_use_id, e]));

    // The model was offered run_command.
    expect(server.requests[0]!.body.tools.map((t: any) => t.name)).to.include('run_command');

    // Every refusal: an error the model can read, recorded with its rule, nothing run.
    for (const x of refused) {
      const what = JSON.stringify(x.block.input);
      const res = results.get(x.block.id)!;
      expect(res, what).to.not.equal(undefined);
      expect(res.is_error, `${what} → ${res.content}`).to.equal(true);
      expect(res.content, what).to.not.match(/\n\s+at /);
      expect(res.content.includes(lay.base), `${what} shows a host path: ${res.content}`).to.equal(false);
      const call = calls.get(x.block.id);
      expect(call, what).to.not.equal(undefined);
      expect(`${call.decision} ${call.rule}`, `${what}: ${call.error}`).to.equal(`${x.decision} ${x.rule}`);
      expect(call.exit_code ?? null, what).to.equal(null);
    }
    expect(fs.existsSync(path.join(lay.ws, 'pwned'))).to.equal(false);

    // The probe ran, and every escape failed from the inside.
    const probed = results.get(probe.id)!;
    expect(probed.is_error ?? false, probed.content).to.equal(false);
    expect(probed.content).to.match(/^\$ node --test test\/probe\.test\.mjs\nexit code 0 after/);
    const found = /PROBE_RESULT (\{.*\})/.exec(probed.content);
    expect(found, probed.content).to.not.equal(null);
    const p = JSON.parse(found![1]!);
    for (const key of ['writeOutside', 'writeEtc', 'writeUsr', 'writeHook', 'writePolicy', 'writeRecords', 'writeEnv']) {
      expect(p[key], `${key}: ${p[key]}`).to.match(/^ERR (EROFS|EACCES|EPERM|ENOENT)$/);
    }
    expect(p.removeGit).to.match(/^ERR (EBUSY|EROFS|EACCES|EPERM)$/);
    expect(p.renamePolicy).to.match(/^ERR (EBUSY|EROFS|EXDEV)$/);
    expect(p.listRecords).to.equal('');
    expect(p.readEnv).to.equal('');
    expect(p.readEnvAlias).to.equal('');
    expect(p.readKey).to.equal('');
    expect(p.readShadow).to.be.oneOf(['', 'ERR ENOENT', 'ERR EACCES']);
    expect(p.linkEnv).to.match(/^ERR (EXDEV|EPERM|EACCES)$/);
    expect(p.readSibling).to.equal('ERR ENOENT');
    if (lay.homeSecret) expect(p.readHome).to.equal('ERR ENOENT');
    expect(p.loopback).to.equal('ERR ECONNREFUSED');
    expect(p.internet).to.match(/^ERR (ENETUNREACH|EHOSTUNREACH|ECONNREFUSED|timeout)$/);
    expect(p.dns).to.match(/^ERR /);
    expect(p.env.split(',').filter((k: string) => !['NODE_TEST_CONTEXT'].includes(k))).to.deep.equal(['HOME', 'PATH', 'PWD', 'TMPDIR']);
    expect(p.leaked).to.equal(0);
    expect(p.homeWrite).to.equal('ok');
    expect(p.writeSrc).to.equal('ok');
    expect(p.writeKey).to.equal('ok');

    // What the role may not change did not stand, and is recorded as a denial of that call.
    expect(probed.content).to.include('files changed: src/generated.txt (created), src/suid (created)');
    expect(probed.content).to.match(/not kept: src\/suid \(created\) is against the policy \(rule builtin\.setid: .*\); its set-ID bits cleared/);
    expect(probed.content).to.match(/not kept: src\/leak\.key \(created\) is against the policy \(rule mutations\.deny\[2\]: key files hold secrets\); removed/);
    expect(probed.content).to.match(/not kept: src\/passwd-link \(created\) is against the policy \(rule path: a link that leads outside the workspace\); removed/);
    const probeCall = calls.get(probe.id);
    expect(probeCall).to.include({ decision: 'deny', is_error: false, exit_code: 0, command: 'node --test test/probe.test.mjs' });
    expect(probeCall.path.split(', ').sort()).to.deep.equal(['src/leak.key', 'src/passwd-link', 'src/suid']);

    // The hanging test was killed at its timeout, grandchild and all.
    const hung = results.get(hang.id)!;
    expect(hung.content).to.match(/stopped after 2 s \(its timeout\): the command and every process it started were killed/);
    expect(hung.content).to.include('GRANDCHILD_STARTED');
    expect(calls.get(hang.id)).to.include({ exit_code: null, is_error: false });
    expect(hostPidsRunning([GRANDCHILD]).filter(hostProcessAlive)).to.deep.equal([]);

    // The flood was cut off; the model got a bounded tail and a note.
    const flooded = results.get(flood.id)!;
    expect(flooded.content).to.match(/stopped: it wrote more than 32 MiB of output/);
    expect(flooded.content).to.match(/stdout: the first \d+ of \d+ bytes were cut/);
    expect(flooded.content.length).to.be.below(110_000);

    // Nothing secret reached the model, the terminal or the audit log; the log verifies.
    expectNoSecret('the requests to the model', JSON.stringify(server.requests.map((q) => q.body)));
    expectNoSecret('stdout', r.stdout);
    expectNoSecret('stderr', r.stderr);
    expectNoSecret('the audit log', auditText(lay.ws));
    const verify = await runCli(['audit:verify', '-w', lay.ws]);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
    for (const f of fs.readdirSync(path.join(lay.ws, '.choragen', 'audit'))) {
      expect(verifyAuditFile(path.join(lay.ws, '.choragen', 'audit', f)).ok, f).to.equal(true);
    }

    // The session's files changed are the ones that stood.
    const ended = jsonEvents(r.stdout).find((e) => e.event === 'session_ended');
    expect(ended.files_changed).to.deep.equal(['src/generated.txt', 'src/suid']);

    // Disk: the same as before, except the file the role was allowed to create.
    const after = snapshot(lay.base);
    expect(after['ws/src/generated.txt']).to.equal(`file 100644 1 ${Buffer.from('made by a test').toString('base64')}`);
    expect(after['ws/src/suid']).to.match(/^file 100755 1 /);
    delete after['ws/src/generated.txt'];
    delete after['ws/src/suid'];
    expect(after).to.deep.equal(before);
    if (lay.homeSecret) {
      expect(fs.readFileSync(lay.homeSecret, 'utf8')).to.equal(homeBefore);
      expect(fs.existsSync(path.join(os.homedir(), 'home-file'))).to.equal(false);
    }
  });

  it('control is not offered run_command and is refused it; the impl child it spawns runs the tests', async () => {
    lay = await makeLayout();
    const attempt = use({ argv: ['node', '--test', 'test/ok.test.mjs'] });
    const childRun = use({ argv: ['node', '--test', 'test/ok.test.mjs'] });
    server = await startFakeAnthropic({ sessions: [
      { role: 'control', turns: [
        { content: [attempt, use({ instructions: 'CHILD: run the tests' }, 'spawn_impl_session')] },
        { content: [{ type: 'text', text: 'reviewed' }] },
      ] },
      { role: 'impl', match: 'CHILD', turns: [
        { content: [childRun] },
        { content: [{ type: 'text', text: 'tests pass' }] },
      ] },
    ] } as any);
    const r = await start('control');
    expect(r.code, r.stderr).to.equal(0);
    const toolsOf = (role: string) => server!.requests.filter((q) => q.role === role).map((q) => q.body.tools.map((t: any) => t.name));
    for (const tools of toolsOf('control')) expect(tools).to.not.include('run_command');
    for (const tools of toolsOf('impl')) expect(tools).to.include('run_command');
    const results = resultsOf(server);
    expect(results.get(attempt.id)!.is_error).to.equal(true);
    expect(results.get(attempt.id)!.content).to.match(/^tool "run_command" is not available to this session/);
    const calls = new Map(jsonEvents(r.stdout).filter((e) => e.event === 'tool_call').map((e) => [e.tool_use_id, e]));
    expect(calls.get(attempt.id)).to.include({ decision: 'deny', rule: 'grants' });
    expect(results.get(childRun.id)!.content).to.match(/exit code 0 after[\s\S]*# pass 1/);
    expect(calls.get(childRun.id)).to.include({ decision: 'allow', rule: 'roles.impl.commands.allow[0]', exit_code: 0 });
    // agent:show lists the child's command with its exit code; metrics:summary counts commands per role.
    const child = jsonEvents(r.stdout).find((e) => e.event === 'session_started' && e.role === 'impl');
    const show = await runCli(['agent:show', child.session_id, '-w', lay.ws]);
    expect(show.code, show.stderr).to.equal(0);
    expect(show.stdout).to.match(/Commands:\n.*\n.*\n\s*1\s+0\s+allow\s+node --test test\/ok\.test\.mjs/);
    const summary = JSON.parse((await runCli(['metrics:summary', '--json', '-w', lay.ws])).stdout);
    expect(summary.commands).to.deep.equal([
      { role: 'control', commands: 1, refused: 1, passed: 0, failed: 0, not_finished: 0 },
      { role: 'impl', commands: 1, refused: 0, passed: 1, failed: 0, not_finished: 0 },
    ]);
  });
});
