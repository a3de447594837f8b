// run_command through the real broker in this process (scripted model, real
// workers, real bubblewrap): no sandbox means no command, approvals, the
// timeout limit, Ctrl-C, a missing program, and the audit line's fields.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { Broker } from '../../runtime/broker/broker.js';
import type { AuditLine } from '../../runtime/audit/events.js';
import { prepareRun } from '../../runtime/run/setup.js';
import { hostPidsRunning, hostProcessAlive, requireSandbox } from './sandbox/fixture.js';
import { makeWorkspace, removeWorkspace } from '../support/cli.js';

const POLICY = (extra = '') => `
mutations:
  deny: [{ pattern: "**/*.key" }]
roles:
  impl:
    allow: [{ pattern: "src/**" }, { pattern: "test/**" }]
    commands:
      approve:
        - { argv: ["node", "--test", "test/approve.test.mjs"], reason: "a test that needs a look first" }
      allow:
        - { argv: ["node", "--test"] }
        - { argv: ["missing-program"] }
${extra}`;

const WRITES_TEST = `
import test from 'node:test';
import fs from 'node:fs';
test('writes', () => { fs.writeFileSync('src/made.txt', 'made'); });
`;

const marker = `choragen-run-command-spec-${process.pid}`;
const HANG_TEST = `
import test from 'node:test';
import { spawn } from 'node:child_process';
test('hangs', async () => {
  spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '${marker}'], { detached: true, stdio: 'ignore' }).unref();
  await new Promise(() => setInterval(() => {}, 1000));
});
`;

interface Run { lines: AuditLine[]; results: Map<string, { content: string; is_error: boolean }>; status: string }

describe('run_command in the broker', function () {
  this.timeout(30_000);
  let ws: string;
  afterEach(() => removeWorkspace(ws));

  async function run(turns: unknown[], opts: { policy?: string; sandbox?: 'missing'; autoApprove?: boolean; requireApproval?: boolean; interruptAfterMs?: number } = {}): Promise<Run> {
    ws = makeWorkspace({
      'choragen.governance.yaml': opts.policy ?? POLICY(),
      'src/a.txt': 'a',
      'test/writes.test.mjs': WRITES_TEST,
      'test/approve.test.mjs': WRITES_TEST,
      'test/hang.test.mjs': HANG_TEST,
    });
    const script = path.join(ws, 'script.json');
    fs.writeFileSync(script, JSON.stringify({ sessions: [{ role: 'impl', turns: [...turns, { content: [{ type: 'text', text: 'done' }] }] }] }));
    const { options } = await prepareRun({ workspace: ws, provider: 'script', script, interactive: false, argv: [], autoApprove: opts.autoApprove, requireApproval: opts.requireApproval });
    const lines: AuditLine[] = [];
    const broker = await Broker.create({
      ...options,
      recordCommits: false,
      ingest: false,
      onEvent: (l) => lines.push(l),
      ...(opts.sandbox === 'missing'
        ? { commandSandbox: async () => ({ ok: false as const, reason: 'run_command needs bubblewrap, which is not installed (looked for /usr/bin/bwrap): install it with `apt-get install bubblewrap`' }) }
        : {}),
    });
    let timer: NodeJS.Timeout | undefined;
    if (opts.interruptAfterMs !== undefined) timer = setTimeout(() => broker.interrupt('interrupted by SIGINT'), opts.interruptAfterMs);
    try {
      const result = await broker.run({ role: 'impl', message: 'run the tests' });
      const transcript = JSON.parse(fs.readFileSync(path.join(ws, '.choragen', 'sessions', `${result.sessionId}.json`), 'utf8'));
      const results = new Map();
      for (const m of transcript.messages) {
        if (Array.isArray(m.content)) for (const b of m.content) if (b.type === 'tool_result') results.set(b.tool_use_id, { content: b.content, is_error: !!b.is_error });
      }
      return { lines, results, status: result.status };
    } finally {
      clearTimeout(timer);
      await broker.close();
    }
  }

  const call = (id: string, input: unknown) => ({ content: [{ type: 'tool_use', id, name: 'run_command', input }] });
  const toolCall = (r: Run, id: string) => r.lines.find((l) => l.type === 'tool_call' && l.tool_use_id === id) as any;

  it('without a working sandbox: refuses with the line that says what to install, runs nothing, and says so at session start', async () => {
    const r = await run([call('t1', { argv: ['node', '--test', 'test/writes.test.mjs'] })], { sandbox: 'missing' });
    expect(r.results.get('t1')).to.deep.equal({
      content: 'run_command needs bubblewrap, which is not installed (looked for /usr/bin/bwrap): install it with `apt-get install bubblewrap`',
      is_error: true,
    });
    expect(toolCall(r, 't1')).to.include({ decision: 'deny', rule: 'sandbox', command: 'node --test test/writes.test.mjs', exit_code: null });
    expect(r.lines.find((l) => l.type === 'notice' && l.kind === 'commands_unavailable')).to.deep.include({
      message: 'run_command will refuse every command: run_command needs bubblewrap, which is not installed (looked for /usr/bin/bwrap): install it with `apt-get install bubblewrap`',
    });
    expect(fs.existsSync(path.join(ws, 'src/made.txt'))).to.equal(false);
    // A command the policy refuses is refused for that reason first.
    const denied = await run([call('t2', { argv: ['npm', 'publish'] })], { sandbox: 'missing' });
    expect(toolCall(denied, 't2')).to.include({ decision: 'deny', rule: 'default' });
  });

  describe('with the sandbox', () => {
    before(async function () {
      await requireSandbox(this);
    });

    it('runs an allowed command; its allowed changes stand and are the session\'s files changed', async () => {
      const r = await run([call('t1', { argv: ['node', '--test', 'test/writes.test.mjs'] })]);
      expect(r.results.get('t1')!.content).to.match(/^\$ node --test test\/writes\.test\.mjs\nexit code 0 after .*[\s\S]*files changed: src\/made\.txt \(created\)$/);
      expect(toolCall(r, 't1')).to.include({ decision: 'allow', rule: 'roles.impl.commands.allow[0]', exit_code: 0, path: '.', is_error: false });
      expect(r.lines.find((l) => l.type === 'session_ended')).to.deep.include({ files_changed: ['src/made.txt'] });
      expect(fs.readFileSync(path.join(ws, 'src/made.txt'), 'utf8')).to.equal('made');
    });

    it('asks a human for an approve rule: no terminal says no and nothing runs; --auto-approve says yes', async () => {
      const no = await run([call('t1', { argv: ['node', '--test', 'test/approve.test.mjs'] })]);
      expect(no.results.get('t1')!.content).to.match(/^not approved: running node --test test\/approve\.test\.mjs needs a human's approval \(rule roles\.impl\.commands\.approve\[0\]: a test that needs a look first\); the answer was no \(no-terminal\)$/);
      expect(toolCall(no, 't1')).to.include({ decision: 'rejected', rule: 'roles.impl.commands.approve[0]' });
      expect(no.lines.find((l) => l.type === 'approval')).to.deep.include({ tool: 'run_command', path: 'node --test test/approve.test.mjs', answer: 'no', by: 'no-terminal' });
      expect(fs.existsSync(path.join(ws, 'src/made.txt'))).to.equal(false);

      const yes = await run([call('t1', { argv: ['node', '--test', 'test/approve.test.mjs'] })], { autoApprove: true });
      expect(toolCall(yes, 't1')).to.include({ decision: 'approved', exit_code: 0 });
      expect(fs.existsSync(path.join(ws, 'src/made.txt'))).to.equal(true);

      // --require-approval asks for every command too (without a terminal it is refused up front, runtime/run/setup.ts).
      const required = await run([call('t1', { argv: ['node', '--test', 'test/writes.test.mjs'] })], { requireApproval: true, autoApprove: true });
      expect(toolCall(required, 't1')).to.include({ decision: 'approved', rule: '--require-approval' });
    });

    it('holds a command to the policy\'s timeout, whatever the call asks for', async () => {
      const r = await run([call('t1', { argv: ['node', '--test', 'test/hang.test.mjs'], timeout_s: 600 })], {
        policy: POLICY('limits: { command_timeout_s: 1 }\n'),
      });
      const content = r.results.get('t1')!.content;
      expect(content).to.match(/stopped after 1 s \(its timeout\): the command and every process it started were killed/);
      expect(content).to.include('timeout_s 600 is above the policy\'s limit (limits.command_timeout_s); 1 s was used');
      expect(hostPidsRunning([marker]).filter(hostProcessAlive)).to.deep.equal([]);
    });

    it('Ctrl-C stops a running command, and everything it started, at once', async () => {
      // The command's own timeout is 120 s: this spec's 30 s would run out if the interrupt did not stop it.
      const r = await run([call('t1', { argv: ['node', '--test', 'test/hang.test.mjs'] })], { interruptAfterMs: 1500 });
      expect(r.status).to.equal('interrupted');
      expect(toolCall(r, 't1')).to.include({ exit_code: null });
      expect(hostPidsRunning([marker]).filter(hostProcessAlive)).to.deep.equal([]);
    });

    it('says when an allowed program does not exist, and when a path is not a directory', async () => {
      const r = await run([
        call('t1', { argv: ['missing-program', '--version'] }),
        call('t2', { argv: ['node', '--test'], cwd: 'src/a.txt' }),
      ]);
      expect(r.results.get('t1')).to.deep.equal({
        content: "missing-program was not found: a bare name is looked up in the system's program directories, node's, then node_modules/.bin; a path is relative to cwd",
        is_error: true,
      });
      expect(r.results.get('t2')).to.deep.equal({ content: 'cwd src/a.txt is not a directory of the workspace', is_error: true });
    });
  });
});
