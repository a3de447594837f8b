// The core promise end to end: the real CLI, real workers, a fake Anthropic
// server; a control session fans out two impl sessions in one message.
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type FakeServer, startFakeAnthropic } from '../../support/fake-anthropic.js';
import { TEST_POLICY, jsonEvents, makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

const FAN_OUT = {
  sessions: [
    {
      role: 'control',
      turns: [
        { content: [
          { type: 'text', text: 'Two independent pieces: delegate both.' },
          { type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'Create src/alpha.ts exporting alpha = 1.' } },
          { type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'Create src/beta.ts exporting beta = 2.' } },
        ] },
        { content: [{ type: 'text', text: 'Both pieces are done and reviewed.' }] },
      ],
    },
    { role: 'impl', match: 'src/alpha.ts', turns: [
      { delay_ms: 1000, content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/alpha.ts', content: 'export const alpha = 1;\n' } }] },
      { content: [{ type: 'tool_use', name: 'complete_task', input: { summary: 'wrote src/alpha.ts' } }] },
    ] },
    { role: 'impl', match: 'src/beta.ts', turns: [
      { delay_ms: 1000, content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/beta.ts', content: 'export const beta = 2;\n' } }] },
      { content: [{ type: 'tool_use', name: 'complete_task', input: { summary: 'wrote src/beta.ts' } }] },
    ] },
  ],
};

const toolNames = (req: any): string[] => (req.body?.tools ?? []).map((t: any) => t.name);

describe('agent:start end to end (fake Anthropic server)', function () {
  let server: FakeServer;
  let ws: string;

  beforeEach(async () => {
    ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, 'src/index.ts': 'export {};\n' });
  });
  afterEach(async () => {
    await server?.close();
    removeWorkspace(ws);
  });

  it('control fans out two impl sessions in parallel; each role sees only its tools; both files land', async () => {
    server = await startFakeAnthropic(FAN_OUT as any);
    const r = await runCli(['agent:start', '--role=control', '--message', 'Add alpha and beta', '--json', '--workspace', ws],
      { env: { ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: server.url } });
    expect(r.code, r.stderr).to.equal(0);
    expect(readFileSync(path.join(ws, 'src/alpha.ts'), 'utf8')).to.equal('export const alpha = 1;\n');
    expect(readFileSync(path.join(ws, 'src/beta.ts'), 'utf8')).to.equal('export const beta = 2;\n');

    const control = server.requests.filter((q) => q.role === 'control');
    const impl = server.requests.filter((q) => q.role === 'impl');
    expect(control).to.have.length(2);
    expect(impl).to.have.length(4);
    expect(toolNames(control[0])).to.include.members(['spawn_impl_session', 'read_file', 'list_files', 'complete_task']);
    expect(toolNames(control[0])).to.not.include.members(['write_file']);
    for (const t of ['write_file', 'edit_file', 'delete_file', 'move_file']) expect(toolNames(control[0])).to.not.include(t);
    for (const q of impl) {
      expect(toolNames(q)).to.include.members(['write_file', 'edit_file', 'read_file', 'complete_task']);
      expect(toolNames(q)).to.not.include('spawn_impl_session');
      expect(toolNames(q)).to.not.include('task_approve');
    }
    // Parallel: each child started before the other one ended (each spends >= 1 s
    // in its first model call, so run one after the other they could not overlap).
    const lines = jsonEvents(r.stdout);
    const children = lines.filter((e) => e.event === 'session_started' && e.depth === 1).map((e) => e.session_id);
    const at = (event: string, id: string) => lines.findIndex((e) => e.event === event && e.session_id === id);
    expect(children).to.have.length(2);
    expect(at('session_started', children[1])).to.be.lessThan(at('session_ended', children[0]));
    expect(at('session_started', children[0])).to.be.lessThan(at('session_ended', children[1]));
    const firstTurns = impl.filter((q) => q.turn === 0).map((q) => q.seq);
    const secondTurns = impl.filter((q) => q.turn === 1).map((q) => q.seq);
    expect(Math.max(...firstTurns)).to.be.lessThan(Math.min(...secondTurns));
    // A child sees only its instructions, not the parent's transcript.
    for (const q of impl) expect(JSON.stringify(q.body.messages[0])).to.not.include('Add alpha and beta');

    // The parent got both children's reports as (non-error) tool results.
    const results = control[1].body.messages.at(-1).content;
    expect(results).to.have.length(2);
    for (const res of results) {
      expect(res.is_error ?? false).to.equal(false);
      expect(res.content).to.match(/completed; files changed: src\/(alpha|beta)\.ts/);
    }

    const events = jsonEvents(r.stdout);
    const started = events.filter((e) => e.event === 'session_started');
    expect(started).to.have.length(3);
    const root = started.find((e) => e.depth === 0);
    expect(started.filter((e) => e.parent_id === root.session_id)).to.have.length(2);
    expect(events.filter((e) => e.event === 'session_ended').map((e) => e.status)).to.deep.equal(['completed', 'completed', 'completed']);
    expect(events.at(-1)).to.include({ event: 'run_finished', status: 'completed', exit_code: 0 });
  });

  it('refuses a tool the role was not granted, executes nothing, and the session goes on', async () => {
    server = await startFakeAnthropic({ sessions: [{ role: 'control', turns: [
      { content: [{ type: 'tool_use', name: 'write_file', input: { path: 'docs/x.md', content: 'hacked' } },
        { type: 'tool_use', name: 'no_such_tool', input: {} }] },
      { content: [{ type: 'text', text: 'ok, I cannot write.' }] },
    ] }] } as any);
    const r = await runCli(['agent:start', '--role', 'control', '-m', 'try it', '--json', '-w', ws],
      { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server.url } });
    expect(r.code, r.stderr).to.equal(0);
    expect(existsSync(path.join(ws, 'docs/x.md'))).to.equal(false);
    const results = server.requests[1].body.messages.at(-1).content;
    expect(results.map((x: any) => x.is_error)).to.deep.equal([true, true]);
    expect(results[0].content).to.match(/"write_file" is not available/);
    const denials = jsonEvents(r.stdout).filter((e) => e.event === 'tool_call' && e.decision === 'deny');
    expect(denials.map((e) => e.tool).sort()).to.deep.equal(['no_such_tool', 'write_file']);
  });

  it('without a governance file: exit 2, says to run choragen init, calls no model', async () => {
    server = await startFakeAnthropic({ sessions: [] } as any);
    const bare = makeWorkspace({ 'README.md': 'hi' });
    try {
      const r = await runCli(['agent:start', '--role', 'control', '-m', 'x', '-w', bare], { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server.url } });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/choragen init/);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(server.requests).to.have.length(0);
    } finally {
      removeWorkspace(bare);
    }
  });

  it('without ANTHROPIC_API_KEY: exit 2 naming the variable and --provider script', async () => {
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '-w', ws]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/ANTHROPIC_API_KEY/).and.to.match(/--provider script/);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
  });

  it('an unknown role or flag is a usage error (exit 2)', async () => {
    const a = await runCli(['agent:start', '--role', 'admin', '-m', 'x', '-w', ws]);
    expect(a.code).to.equal(2);
    expect(a.stderr).to.match(/unknown role "admin"/);
    const b = await runCli(['agent:start', '--role', 'impl', '--frobnicate', '-w', ws]);
    expect(b.code).to.equal(2);
  });

  it('runs the scripted provider through the same broker path', async () => {
    const script = path.join(ws, 'script.json');
    writeFileSync(script, JSON.stringify({ sessions: [{ role: 'impl', turns: [
      { content: [{ type: 'tool_use', name: 'write_file', input: { path: '.env', content: 'x' } }] },
      { content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/ok.ts', content: 'ok' } }] },
      { content: [{ type: 'text', text: 'done' }] },
    ] }] }));
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'go', '--provider', 'script', '--script', script, '--json', '-w', ws]);
    expect(r.code, r.stderr).to.equal(0);
    expect(existsSync(path.join(ws, '.env'))).to.equal(false);
    expect(readFileSync(path.join(ws, 'src/ok.ts'), 'utf8')).to.equal('ok');
    const calls = jsonEvents(r.stdout).filter((e) => e.event === 'tool_call');
    expect(calls.map((e) => [e.decision, e.rule])).to.deep.equal([['deny', 'mutations.deny[0]'], ['allow', 'roles.impl.allow[0]']]);
  });
});
