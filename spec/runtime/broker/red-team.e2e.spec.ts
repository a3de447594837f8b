// The second red team's classes (issue 15), each through the real CLI, real
// workers and the fake Anthropic server: a hostile call is refused or
// contained, nothing on disk changes, no secret (one outside the workspace,
// one in .env) reaches a tool result, the output or the audit log, the run
// goes on, and Ctrl-C stops a run within a second whatever call is running.
import { expect } from 'chai';
import fs, { linkSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import git from 'isomorphic-git';
import { DEFAULT_POLICY_YAML } from '../../../policy/default-policy.js';
import { verifyAuditFile } from '../../../runtime/audit/verify.js';
import { type FakeServer, startFakeAnthropic } from '../../support/fake-anthropic.js';
import { jsonEvents, runCli } from '../../support/cli.js';
import { expectNoSecret, interruptDuring, snapshot } from '../../support/red-team.js';
import { auditText, metricsRows, resultsOf } from '../../support/run-records.js';

const SECRETS = {
  outside: 'OUTSIDE-SECRET-4c1d9e77a2',
  env: 'ENV-SECRET-0b7e55c3f1',
  task: 'TASK-SECRET-91aa03de6b',
};

const POLICY = `
mutations:
  deny:
    - { pattern: "**/.env*" }
    - { pattern: ".git/**" }
reads:
  deny:
    - { pattern: "**/.env*" }
    - { pattern: ".git/**" }
roles:
  impl:
    allow: [{ pattern: "**" }]
  control:
    allow: [{ pattern: "docs/**" }]
`;

interface Layout { base: string; ws: string; outside: string }

const author = { name: 't', email: 't@example.com' };

/**
 * <base>/ws, a git repository, and <base>/outside holding the secret. In the
 * workspace: a hard link to the outside secret, a committed folder since
 * replaced by a symlink out, a committed symlink to the outside secret since
 * deleted, a task chain folder symlinked out, a file for catastrophic
 * backtracking and a long name for a backtracking glob.
 */
async function makeLayout(policy: string, { shaped = false } = {}): Promise<Layout> {
  const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'choragen-redteam-')));
  const ws = path.join(base, 'ws');
  const outside = path.join(base, 'outside');
  const write = (abs: string, content: string) => {
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  };
  write(path.join(outside, 'secret.txt'), `${SECRETS.outside}\n`);
  write(path.join(outside, 'a.txt'), `${SECRETS.outside} (lib)\n`);
  write(path.join(outside, 'chain', '001-steal.md'), `# Task: steal\n\n**Status**: todo\n\n${SECRETS.task}\n`);
  write(path.join(ws, 'choragen.governance.yaml'), policy);
  write(path.join(ws, '.env'), `TOKEN=${SECRETS.env}\n`);
  write(path.join(ws, 'src/index.ts'), 'export {};\n');
  write(path.join(ws, 'lib/a.txt'), 'committed lib file\n');
  write(path.join(ws, 'docs/a-first.md'), 'aaaa\n');
  write(path.join(ws, 'docs/redos.txt'), `${'a'.repeat(1990)}b\n`);
  write(path.join(ws, 'src', 'a'.repeat(200)), 'long name\n');
  // shaped: text the broker itself parses, searches or diffs, shaped to make a backtracking regex,
  // a naive substring search or an edit-distance diff take minutes: a task file, a file to edit, a file to diff.
  const lines = (mod: number) => Array.from({ length: 520_000 }, (_, i) => (i % mod ? 'x' : 'y')).join('\n') + '\n';
  if (shaped) {
    write(path.join(ws, 'docs/tasks/.chains/CHAIN-002-slow.json'), JSON.stringify({ id: 'CHAIN-002-slow', title: 'slow', tasks: ['001-slow'] }));
    write(path.join(ws, 'docs/tasks/todo/CHAIN-002-slow/001-slow.md'),
      `# Task: slow${' \t'.repeat(100_000)}x\n\n**Status**: todo\n**Owner**: a${' \t'.repeat(200_000)}x\n\n## Objective\n\nx${' '.repeat(400_000)}x\n`);
    write(path.join(ws, 'src/big.txt'), 'a'.repeat(1_000_000));
    write(path.join(ws, 'src/diff.txt'), lines(2));
  }
  write(path.join(ws, 'docs/tasks/.chains/CHAIN-001-steal.json'), JSON.stringify({ id: 'CHAIN-001-steal', title: 'steal', tasks: ['001-steal'] }));
  symlinkSync(path.join(outside, 'secret.txt'), path.join(ws, 'headlink'));
  await git.init({ fs, dir: ws, defaultBranch: 'main' });
  for (const f of ['src/index.ts', 'lib/a.txt', 'headlink', ...(shaped ? ['src/diff.txt'] : [])]) await git.add({ fs, dir: ws, filepath: f });
  await git.commit({ fs, dir: ws, message: 'init', author });
  if (shaped) write(path.join(ws, 'src/diff.txt'), lines(3));
  // After the commit: the folder becomes a symlink out, the committed symlink goes away.
  rmSync(path.join(ws, 'lib'), { recursive: true });
  symlinkSync('../outside', path.join(ws, 'lib'));
  rmSync(path.join(ws, 'headlink'));
  linkSync(path.join(outside, 'secret.txt'), path.join(ws, 'src/hard.txt'));
  // The task is real, in todo; a "done" folder of the same chain leads out, holding a task of the same name.
  write(path.join(ws, 'docs/tasks/todo/CHAIN-001-steal/001-steal.md'), '# Task: steal\n\n**Status**: todo\n\nA benign task.\n');
  mkdirSync(path.join(ws, 'docs/tasks/done'), { recursive: true });
  symlinkSync(path.join(outside, 'chain'), path.join(ws, 'docs/tasks/done/CHAIN-001-steal'));
  return { base, ws, outside };
}

let counter = 0;
const use = (name: string, input: unknown, id = `toolu_rt${counter++}`) => ({ type: 'tool_use', id, name, input });

describe('red team, round 2 (issue 15)', function () {
  this.timeout(60_000);
  let server: FakeServer | undefined;
  let lay: Layout | undefined;
  const env = () => ({ ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server!.url });
  const args = (role: string, extra: string[] = []) =>
    ['agent:start', '--role', role, '-m', `red team ${role}`, '--json', '--no-record-commits', '-w', lay!.ws, ...extra];

  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (lay) rmSync(lay.base, { recursive: true, force: true });
    lay = undefined;
  });

  /** Nothing the model saw, printed or audited carries a secret or a host path; every audit log verifies. */
  function expectClean(r: { stdout: string; stderr: string }): void {
    const sent = JSON.stringify(server!.requests.map((q) => q.body));
    expectNoSecret(SECRETS, 'the requests to the model', sent);
    expectNoSecret(SECRETS, 'stdout', r.stdout);
    expectNoSecret(SECRETS, 'stderr', r.stderr);
    expectNoSecret(SECRETS, 'the audit log', auditText(lay!.ws));
    for (const res of resultsOf(server!).values()) expect(String(res.content), res.content).to.not.include(lay!.base);
    const dir = path.join(lay!.ws, '.choragen', 'audit');
    for (const f of readdirSync(dir)) expect(verifyAuditFile(path.join(dir, f)).ok, f).to.equal(true);
  }

  it('reads never follow a hard link or a swapped folder out, and git_diff shows a committed symlink as a symlink (classes 4, 5)', async () => {
    lay = await makeLayout(POLICY);
    const calls = {
      read: use('read_file', { path: 'src/hard.txt' }),
      searchAll: use('search_files', { pattern: 'SECRET' }),
      searchOne: use('search_files', { pattern: 'SECRET', path: 'src/hard.txt' }),
      searchGlob: use('search_files', { pattern: 'SECRET', glob: '**/hard.txt' }),
      diff: use('git_diff', {}),
      diffLib: use('git_diff', { path: 'src' }),
      status: use('git_status', {}),
      list: use('list_files', { recursive: true }),
      readLib: use('read_file', { path: 'lib/a.txt' }),
      benign: use('read_file', { path: 'src/index.ts' }),
    };
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [
      { content: Object.values(calls) },
      { content: [{ type: 'text', text: 'done' }] },
    ] }] } as any);
    const before = snapshot(lay.base);
    const r = await runCli(args('impl'), { env: env() });
    expect(r.code, r.stderr).to.equal(0);
    const results = resultsOf(server);
    const res = (c: { id: string }) => results.get(c.id);
    expect(res(calls.read).is_error, res(calls.read).content).to.equal(true);
    expect(res(calls.read).content).to.match(/hard link/);
    expect(res(calls.readLib).is_error).to.equal(true);
    expect(res(calls.benign).is_error ?? false).to.equal(false);
    for (const c of [calls.searchAll, calls.diff, calls.status, calls.list]) {
      expect(res(c).is_error ?? false, `${c.name}: ${res(c).content}`).to.equal(false);
    }
    // The deleted committed symlink is shown as one, its target (a host path) is not.
    expect(res(calls.diff).content).to.include('diff --git a/headlink b/headlink');
    expect(res(calls.diff).content).to.match(/symlink/);
    // The swapped folder: git sees lib/a.txt gone and lib a symlink; no content from outside.
    expect(res(calls.status).content).to.include(' D lib/a.txt');
    expectClean(r);
    expect(snapshot(lay.base)).to.deep.equal(before);
  });

  it('a task folder symlinked out of the workspace is never read, and nothing of it reaches the child (class 6)', async () => {
    lay = await makeLayout(POLICY);
    server = await startFakeAnthropic({ sessions: [
      { role: 'control', turns: [
        { content: [
          use('spawn_impl_session', { instructions: 'STEAL-CHILD: do the task', task_id: 'CHAIN-001-steal/001-steal' }, 'toolu_steal'),
          use('task_list', { chain_id: 'CHAIN-001-steal' }, 'toolu_steal_list'),
          use('chain_status', {}, 'toolu_steal_status'),
        ] },
        { content: [{ type: 'text', text: 'done' }] },
      ] },
      { role: 'impl', match: 'STEAL-CHILD', turns: [{ content: [{ type: 'text', text: 'child done' }] }] },
    ] } as any);
    const before = snapshot(lay.base);
    const r = await runCli(args('control'), { env: env() });
    expect(r.code, r.stderr).to.equal(0);
    const spawned = resultsOf(server).get('toolu_steal');
    expect(spawned.is_error ?? false, spawned.content).to.equal(false);
    const child = server.requests.find((q) => q.role === 'impl');
    expect(JSON.stringify(child!.body.messages[0])).to.include('A benign task.');
    expectClean(r);
    // The only change: the task moved from todo to in-progress (started by control).
    const after = snapshot(lay.base);
    expect(Object.keys(after).filter((k) => !(k in before))).to.deep.equal(['ws/docs/tasks/in-progress', 'ws/docs/tasks/in-progress/CHAIN-001-steal', 'ws/docs/tasks/in-progress/CHAIN-001-steal/001-steal.md']);
    expect(Object.keys(before).filter((k) => !(k in after))).to.deep.equal(['ws/docs/tasks/todo/CHAIN-001-steal/001-steal.md']);
  });

  it('the default policy keeps nested git repositories and code-running config out of reach (class 8)', async () => {
    lay = await makeLayout(DEFAULT_POLICY_YAML);
    const attacks = [
      use('write_file', { path: 'src/.git/hooks/pre-commit', content: '#!/bin/sh\necho pwned\n' }),
      use('write_file', { path: 'src/.git/config', content: '[core]\n\tfsmonitor = "echo pwned"\n' }),
      use('write_file', { path: 'src/.git', content: 'gitdir: ../evil\n' }),
      use('write_file', { path: 'src/vendor/.git/HEAD', content: 'ref: refs/heads/x\n' }),
      use('write_file', { path: 'src/.npmrc', content: 'node-options=--require ./pwn.js\n' }),
      use('write_file', { path: 'src/.husky/pre-commit', content: 'echo pwned\n' }),
      use('write_file', { path: 'src/.githooks/pre-push', content: 'echo pwned\n' }),
      use('write_file', { path: 'src/lefthook.yml', content: 'pre-commit:\n  commands:\n    x:\n      run: echo pwned\n' }),
      use('write_file', { path: 'src/.pre-commit-config.yaml', content: 'repos: []\n' }),
      use('write_file', { path: 'src/.github/workflows/ci.yml', content: 'on: push\n' }),
      use('write_file', { path: 'src/.gitlab-ci.yml', content: 'x: 1\n' }),
      use('write_file', { path: 'src/.vscode/tasks.json', content: '{}' }),
      use('write_file', { path: 'src/.gitattributes', content: '* filter=pwn\n' }),
      use('write_file', { path: 'src/.envrc', content: 'echo pwned\n' }),
      use('write_file', { path: 'src/.hg/hgrc', content: '[hooks]\npre-status = echo pwned\n' }),
      use('write_file', { path: 'src/.devcontainer.json', content: '{"postCreateCommand":"echo pwned"}' }),
      use('write_file', { path: 'src/.lintstagedrc.json', content: '{"*":"echo pwned"}' }),
      use('write_file', { path: 'src/.cargo/config.toml', content: '[build]\nrustc-wrapper = "./pwn"\n' }),
      use('read_file', { path: 'src/.git/config' }),
    ];
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [
      { content: [...attacks, use('write_file', { path: 'src/ok.ts', content: 'export const ok = 1;\n' }, 'toolu_ok')] },
      { content: [{ type: 'text', text: 'done' }] },
    ] }] } as any);
    mkdirSync(path.join(lay.ws, 'src/.git'), { recursive: true });
    writeFileSync(path.join(lay.ws, 'src/.git/config'), '[core]\n');
    const before = snapshot(lay.base);
    const r = await runCli(args('impl'), { env: env() });
    expect(r.code, r.stderr).to.equal(0);
    const results = resultsOf(server);
    const calls = new Map(jsonEvents(r.stdout).filter((e) => e.event === 'tool_call').map((e) => [e.tool_use_id, e]));
    for (const a of attacks) {
      const what = `${a.name} ${JSON.stringify(a.input)}`;
      expect(results.get(a.id).is_error, `${what} → ${results.get(a.id).content}`).to.equal(true);
      expect(['deny', 'rejected'], `${what}: ${calls.get(a.id)?.decision}`).to.include(calls.get(a.id).decision);
    }
    expect(results.get('toolu_ok').is_error ?? false).to.equal(false);
    const after = snapshot(lay.base);
    delete after['ws/src/ok.ts'];
    expect(after).to.deep.equal(before);
    expectClean(r);
  });

  it('a deeply nested tool input is refused as one tool error, audited, and the run goes on (class 3)', async () => {
    lay = await makeLayout(POLICY);
    const deep = JSON.parse(`${'['.repeat(3500)}${']'.repeat(3500)}`);
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [
      { content: [
        use('read_file', { path: deep }, 'toolu_deep'),
        use('search_files', { pattern: 'x', glob: deep }, 'toolu_deep2'),
        { type: 'tool_use', id: 'toolu_deep_name', name: deep, input: {} },
      ] },
      { content: [use('read_file', { path: 'src/index.ts' }, 'toolu_after')] },
      { content: [{ type: 'text', text: 'survived' }] },
    ] }] } as any);
    const r = await runCli(args('impl'), { env: env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.not.match(/RangeError|\n\s+at /);
    const results = resultsOf(server);
    for (const id of ['toolu_deep', 'toolu_deep2']) {
      expect(results.get(id).is_error, results.get(id).content).to.equal(true);
      expect(results.get(id).content).to.match(/nested/);
    }
    expect(results.get('toolu_deep_name')).to.include({ is_error: true, content: 'invalid tool call: the tool name must be a string' });
    expect(results.get('toolu_after').is_error ?? false).to.equal(false);
    const events = jsonEvents(r.stdout);
    const calls = events.filter((e) => e.event === 'tool_call');
    expect(calls.find((e) => e.tool_use_id === 'toolu_deep')).to.include({ is_error: true, decision: 'invalid' });
    expect(events.find((e) => e.event === 'session_ended')).to.include({ status: 'completed', final_text: 'survived' });
    expectClean(r);
    // And in the metrics: the refused calls are rows of tool_calls.
    expect(await metricsRows(lay.ws, 'SELECT tool, decision, rule, is_error FROM tool_calls ORDER BY seq')).to.deep.equal([
      { tool: 'read_file', decision: 'invalid', rule: 'input-bounds', is_error: true },
      { tool: 'search_files', decision: 'invalid', rule: 'input-bounds', is_error: true },
      { tool: '(not a string)', decision: 'invalid', rule: 'input-bounds', is_error: true },
      { tool: 'read_file', decision: 'allow', rule: 'reads.default', is_error: false },
    ]);
  });

  it('a backtracking regex or glob hits the search deadline: what was found comes back with a note (class 2)', async () => {
    lay = await makeLayout(POLICY);
    server = await startFakeAnthropic({ sessions: [{ role: 'control', turns: [
      { content: [
        use('search_files', { pattern: '(a+)+$', path: 'docs' }, 'toolu_redos'),
        use('search_files', { pattern: 'long', glob: `${'*a'.repeat(14)}c` }, 'toolu_glob'),
        use('read_file', { path: `${'a/'.repeat(30_000)}x` }, 'toolu_deep_path'),
      ] },
      { content: [{ type: 'text', text: 'done' }] },
    ] }] } as any);
    const r = await runCli(args('control'), { env: env() });
    expect(r.code, r.stderr).to.equal(0);
    const results = resultsOf(server);
    const redos = results.get('toolu_redos');
    expect(redos.is_error ?? false, redos.content).to.equal(false);
    expect(redos.content).to.include('docs/a-first.md:1: aaaa');
    expect(redos.content).to.match(/stopped/);
    const glob = results.get('toolu_glob');
    expect(glob.is_error ?? false, glob.content).to.equal(false);
    expect(glob.content).to.match(/stopped/);
    const deepPath = results.get('toolu_deep_path');
    expect(deepPath.is_error, deepPath.content).to.equal(true);
    expect(deepPath.content).to.match(/too long|components/);
    expectClean(r);
  });

  // afterMs: when to press Ctrl-C (git_diff first hashes the working tree: the diff comes later).
  for (const [name, role, input, afterMs] of [
    ['a backtracking regex', 'control', use('search_files', { pattern: '(a+)+$', path: 'docs/redos.txt' }), 200],
    ['a backtracking glob', 'control', use('search_files', { pattern: 'x', glob: `${'*a'.repeat(14)}c` }), 200],
    ['a path of 30,000 components', 'control', use('list_files', { path: `${'a/'.repeat(30_000)}` }), 200],
    ['a task file shaped against its parser', 'control', use('task_list', { chain_id: 'CHAIN-002-slow' }), 200],
    ['an old_string shaped against substring search', 'impl', use('edit_file', { path: 'src/big.txt', old_string: `${'a'.repeat(50_000)}b${'a'.repeat(50_000)}`, new_string: 'x' }), 200],
    ['a diff shaped against the line diff', 'control', use('git_diff', { path: 'src/diff.txt' }), 1500],
  ] as const) {
    it(`Ctrl-C stops the run within a second while ${name} runs (class 2)`, async () => {
      lay = await makeLayout(POLICY, { shaped: true });
      // The model then "thinks" for a while, so the run is still going when a refused call came back at once.
      server = await startFakeAnthropic({ sessions: [{ role, turns: [
        { content: [input] },
        { delay_ms: 5000, content: [{ type: 'text', text: 'done' }] },
      ] }] } as any);
      const r = await interruptDuring(args(role), env(), (e) => e.event === 'model_call', { afterMs });
      expect(r.code, r.stderr).to.equal(130);
      expect(r.exitMs, `exit took ${r.exitMs} ms`).to.be.below(1000);
      expectClean(r);
    });
  }
});
