// agent:resume is exactly-once (issue 16 item 1): a run SIGKILLed after a
// tool call took effect but before the next model reply is resumed without
// running that call again; a resumed session is not resumed twice; two
// resumes at once: one refuses. Real CLI, real workers, fake Anthropic server.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type FakeServer, startFakeAnthropic } from '../../support/fake-anthropic.js';
import { TEST_POLICY, jsonEvents, makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';
import { verifyAuditFile } from '../../../runtime/audit/verify.js';
import { auditLogFiles } from '../../../runtime/audit/log.js';

const ORIGINAL = 'export const a = 1;\n';
const APPENDED = 'export const a = 1;\n// appended once\n';
const edit = { type: 'tool_use', name: 'edit_file', input: { path: 'src/a.ts', old_string: ORIGINAL, new_string: APPENDED } };
const text = (t: string) => ({ type: 'text', text: t });

/** The first run: the edit, then a model reply that never comes in time. */
const slowAfterEdit = { sessions: [{ role: 'impl', turns: [{ content: [edit] }, { delay_ms: 60_000, content: [text('too late')] }] }] };
/** What a resumed run hears: the same first turn (never asked for again), then the end, after `delay` ms. */
const finishAfter = (delay = 0) => ({ sessions: [{ role: 'impl', turns: [{ content: [edit] }, { delay_ms: delay, content: [text('finished')] }] }] });

describe('agent:resume exactly once (issue 16)', function () {
  this.timeout(60_000);
  let server: FakeServer | undefined;
  let ws: string;
  const env = () => ({ ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server!.url });
  const fileText = () => readFileSync(path.join(ws, 'src/a.ts'), 'utf8');

  beforeEach(() => {
    ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, 'src/a.ts': ORIGINAL });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    removeWorkspace(ws);
  });

  /** Starts a run and SIGKILLs it the moment its edit_file call is audited; returns the session id. */
  async function killedAfterEdit(): Promise<string> {
    server = await startFakeAnthropic(slowAfterEdit as any);
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'append a line', '--json', '-w', ws], {
      env: env(),
      onSpawn: (child) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += String(d);
          if (out.includes('"event":"tool_call"')) child.kill('SIGKILL');
        });
      },
    });
    expect(r.signal, r.stderr).to.equal('SIGKILL');
    expect(fileText()).to.equal(APPENDED);
    await server.close();
    server = undefined;
    return jsonEvents(r.stdout).find((e) => e.event === 'session_started').session_id;
  }

  it('a call that took effect before a SIGKILL is not run again; the model gets its recorded result', async () => {
    const id = await killedAfterEdit();
    server = await startFakeAnthropic(finishAfter() as any);
    const resumed = await runCli(['agent:resume', id, '--json', '-w', ws], { env: env() });
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(fileText()).to.equal(APPENDED);
    const events = jsonEvents(resumed.stdout);
    expect(events.filter((e) => e.event === 'tool_call')).to.have.length(0);
    const newId = events.find((e) => e.event === 'session_started').session_id;
    // The model continued from the recorded result of the edit, not from a guess.
    const sent = server.requests[0]!.body.messages.at(-1).content[0];
    expect(sent).to.include({ type: 'tool_result', tool_use_id: 'toolu_0_0_0' });
    expect(sent.is_error ?? false).to.equal(false);
    expect(sent.content).to.match(/src\/a\.ts/);

    // A second and a third resume run nothing, and say who carried on.
    for (let i = 0; i < 2; i++) {
      const again = await runCli(['agent:resume', id, '--json', '-w', ws], { env: env() });
      expect(again.code).to.equal(2);
      expect(again.stderr.trim()).to.equal(
        `choragen: session ${id} was already resumed by session ${newId}, which completed; nothing to resume (see \`choragen agent:show ${newId}\`)`,
      );
    }
    expect(server.requests).to.have.length(1);
    expect(fileText()).to.equal(APPENDED);
    for (const f of auditLogFiles(ws)) expect(verifyAuditFile(f)).to.deep.include({ ok: true });

    // The original's record says it was resumed, and by whom.
    const show = await runCli(['agent:show', id, '--json', '-w', ws]);
    expect(show.code, show.stderr).to.equal(0);
    expect(JSON.parse(show.stdout).session).to.include({ status: 'interrupted', resumed_by: newId });
    const shown = await runCli(['agent:show', id, '-w', ws]);
    expect(shown.stdout).to.include(`resumed by: ${newId}`);
    const list = await runCli(['agent:list', '--json', '-w', ws]);
    expect(JSON.parse(list.stdout).find((s: any) => s.session_id === id)).to.include({ resumed_by: newId });
    const table = await runCli(['agent:list', '-w', ws]);
    expect(table.stdout).to.match(new RegExp(`${id}.*interrupted, resumed by ${newId}`));
  });

  it('a call whose result was never recorded is reported to the model as interrupted, and not run again', async () => {
    const id = await killedAfterEdit();
    // As if the process had died after the edit took effect but before its result was journaled.
    const journal = path.join(ws, '.choragen', 'sessions', `${id}.jsonl`);
    writeFileSync(journal, readFileSync(journal, 'utf8').split('\n').filter((l) => !l.startsWith('{"tool_result"')).join('\n'));
    server = await startFakeAnthropic(finishAfter() as any);
    const resumed = await runCli(['agent:resume', id, '--json', '-w', ws], { env: env() });
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(fileText()).to.equal(APPENDED);
    expect(jsonEvents(resumed.stdout).filter((e) => e.event === 'tool_call')).to.have.length(0);
    const sent = server.requests[0]!.body.messages.at(-1).content[0];
    expect(sent).to.include({ type: 'tool_result', tool_use_id: 'toolu_0_0_0', is_error: true });
    expect(sent.content).to.match(/^interrupted: the session stopped while edit_file on src\/a\.ts was running.*may or may not have happened/);
  });

  it('a journal damaged before its last line is not resumed from before the damage (that would run the edit again)', async () => {
    const id = await killedAfterEdit();
    const journal = path.join(ws, '.choragen', 'sessions', `${id}.jsonl`);
    // The assistant message that asked for the edit, garbled; its result and the lines after it are whole.
    writeFileSync(journal, readFileSync(journal, 'utf8').replace('{"message":{"role":"assistant"', '{"message":{"role":"assistant'));
    server = await startFakeAnthropic(finishAfter() as any);
    const resumed = await runCli(['agent:resume', id, '--json', '-w', ws], { env: env() });
    expect(resumed.code, resumed.stderr).to.equal(2);
    expect(resumed.stderr.trim()).to.match(new RegExp(`^choragen: the journal of session ${id} \\(\\.choragen/sessions/${id}\\.jsonl\\) is damaged at line 4: .*start a new session instead$`));
    expect(server.requests).to.have.length(0);
    expect(fileText()).to.equal(APPENDED);
  });

  it('two resumes at once: one runs, the other refuses and names the process holding the session', async () => {
    const id = await killedAfterEdit();
    server = await startFakeAnthropic(finishAfter(3000) as any);
    const args = ['agent:resume', id, '--json', '-w', ws];
    const [a, b] = await Promise.all([runCli(args, { env: env() }), runCli(args, { env: env() })]);
    const codes = [a.code, b.code].sort();
    expect(codes, a.stderr + b.stderr).to.deep.equal([0, 2]);
    const refused = a.code === 2 ? a : b;
    expect(refused.stderr.trim()).to.match(new RegExp(`^choragen: session ${id} is already being resumed by process \\d+ \\(since [^)]+\\); wait for that run to end$`));
    expect(server.requests).to.have.length(1);
    expect(fileText()).to.equal(APPENDED);
  });

  it('a resume killed in turn leaves no lock behind: the next resume continues the session that carried on', async () => {
    const id = await killedAfterEdit();
    server = await startFakeAnthropic(finishAfter(60_000) as any);
    const killed = await runCli(['agent:resume', id, '--json', '-w', ws], {
      env: env(),
      onSpawn: (child) => {
        const poll = setInterval(() => {
          if (server!.requests.length > 0) {
            clearInterval(poll);
            child.kill('SIGKILL');
          }
        }, 20);
      },
    });
    expect(killed.signal).to.equal('SIGKILL');
    const carriedOn = jsonEvents(killed.stdout).find((e) => e.event === 'session_started').session_id;
    await server.close();
    server = await startFakeAnthropic(finishAfter() as any);
    // The original points at the session that carried on, which is interrupted now.
    const original = await runCli(['agent:resume', id, '-w', ws], { env: env() });
    expect(original.code).to.equal(2);
    expect(original.stderr).to.include(`resume that one instead: choragen agent:resume ${carriedOn}`);
    const next = await runCli(['agent:resume', carriedOn, '--json', '-w', ws], { env: env() });
    expect(next.code, next.stderr).to.equal(0);
    expect(fileText()).to.equal(APPENDED);
  });
});
