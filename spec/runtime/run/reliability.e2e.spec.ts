// Fail safe: flaky API, interrupts, loops, malformed replies, crashed
// workers, resume, concurrent runs, bad input. Real CLI, real workers, fake
// Anthropic server. Budgets, and endpoints that misbehave, on every
// provider: endpoints.e2e.spec.ts.
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { verifyAuditFile } from '../../../runtime/audit/verify.js';
import { Broker } from '../../../runtime/broker/broker.js';
import { distRoot } from '../../../runtime/paths.js';
import { prepareRun } from '../../../runtime/run/setup.js';
import { SessionPool } from '../../../runtime/broker/session-pool.js';
import { type FakeServer, startFakeAnthropic } from '../../support/fake-anthropic.js';
import { TEST_POLICY, jsonEvents, makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

const read = (p: string) => ({ type: 'tool_use', name: 'read_file', input: { path: p } });
const text = (t: string) => ({ type: 'text', text: t });

function auditFiles(ws: string): string[] {
  const dir = path.join(ws, '.choragen', 'audit');
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => path.join(dir, f));
}

describe('reliability (issue 7)', function () {
  let server: FakeServer | undefined;
  let ws: string;
  const env = () => ({ ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server!.url });

  beforeEach(() => {
    ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, 'src/a.ts': 'export const a = 1;\n' });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    removeWorkspace(ws);
  });

  it('retries 529s with backoff, completes, and records the retries on the model call', async () => {
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [{ failures: [529, 529], content: [text('done')] }] }] } as any);
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--json', '-w', ws], { env: env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(server.requests.map((q) => q.status)).to.deep.equal([529, 529, 200]);
    const calls = jsonEvents(r.stdout).filter((e) => e.event === 'model_call');
    expect(calls).to.have.length(1);
    expect(calls[0].retries).to.equal(2);
  });

  it('gives up after --max-retries and fails the session with the provider\'s message (exit 1)', async () => {
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [{ failures: [500, 500, 500], content: [text('never')] }] }] } as any);
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--max-retries', '1', '--json', '-w', ws], { env: env() });
    expect(r.code).to.equal(1);
    expect(server.requests).to.have.length(2);
    const ended = jsonEvents(r.stdout).find((e) => e.event === 'session_ended');
    expect(ended.status).to.equal('failed');
    expect(ended.error).to.match(/after 1 retry: the model endpoint answered 500 /);
  });

  it('--session-timeout stops a session that runs too long (failed, says why)', async () => {
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [{ delay_ms: 60_000, content: [text('too late')] }] }] } as any);
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'slow', '--session-timeout', '1s', '--json', '-w', ws], { env: env() });
    expect(r.code, r.stderr).to.equal(1);
    const ended = jsonEvents(r.stdout).find((e) => e.event === 'session_ended');
    expect(ended).to.include({ status: 'failed' });
    expect(ended.error).to.match(/session timeout after 1s/);
  });

  it('SIGINT during a slow model call: exit 130 quickly, session interrupted, audit log verifies', async () => {
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [{ delay_ms: 60_000, content: [text('too late')] }] }] } as any);
    let sentAt = 0;
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'slow', '--json', '-w', ws], {
      env: env(),
      onSpawn: (child) => {
        const poll = setInterval(() => {
          if (server!.requests.length > 0) {
            clearInterval(poll);
            sentAt = Date.now();
            child.kill('SIGINT');
          }
        }, 20);
      },
    });
    const took = Date.now() - sentAt;
    expect(r.code, r.stderr).to.equal(130);
    expect(took).to.be.lessThan(10_000); // generous; the contract (2 s) is measured by the bench, not here
    const ended = jsonEvents(r.stdout).find((e) => e.event === 'session_ended');
    expect(ended.status).to.equal('interrupted');
    for (const f of auditFiles(ws)) expect(verifyAuditFile(f).ok).to.equal(true);
  });

  it('--max-turns stops an endless loop (exit 1, failed, says why)', async () => {
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: Array.from({ length: 50 }, () => ({ content: [read('src/a.ts')] })) }] } as any);
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'loop', '--max-turns', '3', '--json', '-w', ws], { env: env() });
    expect(r.code, r.stderr).to.equal(1);
    expect(server.requests, r.stderr + r.stdout).to.have.length(3);
    expect(jsonEvents(r.stdout).find((e) => e.event === 'session_ended').error).to.match(/--max-turns 3/);
  });

  it('a malformed tool input is a tool error to the model and the session continues', async () => {
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [
      { malformed: true, content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/b.ts', content: 'b' } }] },
      { content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/b.ts', content: 42 } }] },
      { content: [text('gave up')] },
    ] }] } as any);
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--json', '-w', ws], { env: env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(existsSync(path.join(ws, 'src/b.ts'))).to.equal(false);
    for (const q of server.requests.slice(1)) {
      const result = q.body.messages.at(-1).content[0];
      expect(result.is_error).to.equal(true);
      expect(result.content).to.match(/^invalid input for write_file/);
    }
    const calls = jsonEvents(r.stdout).filter((e) => e.event === 'tool_call');
    expect(calls.map((c) => c.decision)).to.deep.equal(['invalid', 'invalid']);
  });

  it('an empty model message or an unknown stop reason ends the session cleanly', async () => {
    server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [{ stop_reason: 'refusal', content: [] }] }] } as any);
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--json', '-w', ws], { env: env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(jsonEvents(r.stdout).find((e) => e.event === 'session_ended').error).to.match(/empty message/);
  });

  it('a worker that exits, throws or runs out of memory fails only its session; siblings and parent go on', async () => {
    const script = path.join(ws, 'crash.json');
    writeFileSync(script, JSON.stringify({ sessions: [
      { role: 'control', turns: [
        { content: ['FAULT:exit', 'FAULT:throw', 'FAULT:oom', 'write src/ok.ts'].map((i) => ({ type: 'tool_use', name: 'spawn_impl_session', input: { instructions: i } })) },
        { content: [text('reviewed')] },
      ] },
      { role: 'impl', match: 'write src/ok.ts', turns: [
        { content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/ok.ts', content: 'ok' } }] },
        { content: [text('done')] },
      ] },
    ] }));
    const { options } = await prepareRun({ workspace: ws, provider: 'script', script, interactive: false, argv: [] });
    const pool = await SessionPool.create({ sandbox: options.sandbox, maxThreads: 6, maxOldGenerationSizeMb: 64,
      filename: path.join(distRoot, 'spec', 'support', 'crashing-worker.js') });
    const lines: any[] = [];
    const broker = await Broker.create({ ...options, pool, ingest: false, onEvent: (l) => lines.push(l) });
    try {
      const result = await broker.run({ role: 'control', message: 'fan out' });
      expect(result.status).to.equal('completed');
      const ended = lines.filter((l) => l.type === 'session_ended');
      expect(ended.filter((e) => e.status === 'failed')).to.have.length(3);
      expect(ended.filter((e) => e.status === 'failed').map((e) => e.error).join(' ')).to.match(/crashed/);
      expect(readFileSync(path.join(ws, 'src/ok.ts'), 'utf8')).to.equal('ok');
      const spawnResults = lines.filter((l) => l.type === 'tool_call' && l.tool === 'spawn_impl_session');
      expect(spawnResults.map((l) => l.is_error).sort()).to.deep.equal([false, true, true, true]);
    } finally {
      await broker.close();
      await pool.close();
    }
  });

  it('agent:resume continues an interrupted session from its last complete turn', async () => {
    const script = path.join(ws, 'resume.json');
    writeFileSync(script, JSON.stringify({ sessions: [{ role: 'impl', turns: [
      { content: [read('src/a.ts')] },
      { delay_ms: 60_000, content: [text('never reached before the interrupt')] },
    ] }] }));
    const first = await runCli(['agent:start', '--role', 'impl', '-m', 'resumable', '--provider', 'script', '--script', script, '--json', '-w', ws], {
      onSpawn: (child) => {
        child.stdout!.on('data', (d: Buffer) => { if (String(d).includes('"tool_call"')) setTimeout(() => child.kill('SIGINT'), 200); });
      },
    });
    expect(first.code, first.stderr).to.equal(130);
    const id = jsonEvents(first.stdout).find((e) => e.event === 'session_started').session_id;
    writeFileSync(script, JSON.stringify({ sessions: [{ role: 'impl', turns: [
      { content: [read('src/a.ts')] },
      { content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/resumed.ts', content: 'resumed' } }] },
      { content: [text('finished after resume')] },
    ] }] }));
    // It ran on a script: resuming it needs the script again (or a real provider), and says so.
    const noScript = await runCli(['agent:resume', id, '-w', ws]);
    expect(noScript.code).to.equal(2);
    expect(noScript.stderr).to.include(`session ${id} ran on a scripted conversation: give --script FILE to resume it offline`);
    const second = await runCli(['agent:resume', id, '--script', script, '--json', '-w', ws]);
    expect(second.code, second.stderr).to.equal(0);
    const started = jsonEvents(second.stdout).find((e) => e.event === 'session_started');
    expect(started.resumed_from).to.equal(id);
    expect(readFileSync(path.join(ws, 'src/resumed.ts'), 'utf8')).to.equal('resumed');
    const completed = await runCli(['agent:resume', started.session_id, '-w', ws]);
    expect(completed.code).to.equal(2);
    expect(completed.stderr).to.match(/only interrupted, failed or budget_exceeded/);
  });

  it('two runs in one workspace both complete and both audit logs verify', async () => {
    const script = path.join(ws, 'two.json');
    writeFileSync(script, JSON.stringify({ sessions: [{ role: 'impl', turns: [{ content: [read('src/a.ts')] }, { content: [text('ok')] }] },
      { role: 'impl', turns: [{ content: [read('src/a.ts')] }, { content: [text('ok')] }] }] }));
    const args = ['agent:start', '--role', 'impl', '--provider', 'script', '--script', script, '-w', ws];
    const [a, b] = await Promise.all([runCli([...args, '-m', 'one']), runCli([...args, '-m', 'two'])]);
    expect(a.code, a.stderr).to.equal(0);
    expect(b.code, b.stderr).to.equal(0);
    const files = auditFiles(ws);
    expect(files).to.have.length(2);
    for (const f of files) expect(verifyAuditFile(f)).to.deep.include({ ok: true });
  });

  it('bad input: invalid numbers, a broken policy, an unusable workspace → exit 2 with one line, no model call', async () => {
    server = await startFakeAnthropic({ sessions: [] } as any);
    const bad = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--max-tokens', 'lots', '-w', ws], { env: env() });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/--max-tokens must be a whole number/);
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), 'mutations:\n  deny:\n    - { pattern: "**/.env*", actions: [rename] }\n');
    const broken = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '-w', ws], { env: env() });
    expect(broken.code).to.equal(2);
    expect(broken.stderr).to.match(/choragen\.governance\.yaml:3/).and.to.match(/rename/);
    expect(broken.stderr.trim().split('\n')).to.have.length(1);
    const blocked = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, '.choragen': 'a file where a folder should be' });
    try {
      const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '-w', blocked], { env: env() });
      expect(r.code).to.equal(2);
      expect(r.stderr.trim()).to.match(/^choragen: cannot create \S+\/\.choragen: a file is in the way where a directory should be \(ENOTDIR\); move that file out of the way$/);
    } finally {
      removeWorkspace(blocked);
    }
    expect(server.requests).to.have.length(0);
  });
});
