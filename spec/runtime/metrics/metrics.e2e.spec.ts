// Issue 6's check: what the runtime recorded equals what the provider reported.
import { expect } from 'chai';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type FakeServer, startFakeAnthropic } from '../../support/fake-anthropic.js';
import { TEST_POLICY, makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';
import { metricsRows } from '../../support/run-records.js';

describe('metrics and audit end to end', function () {
  let ws: string;
  let server: FakeServer;

  before(async () => {
    ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, 'src/a.ts': 'export const a = 1;\n', '.env': 'SECRET=1' });
    server = await startFakeAnthropic({ sessions: [
      { role: 'control', turns: [
        { content: [
          { type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'one: write src/one.ts' } },
          { type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'two: write src/two.ts' } },
        ] },
        { content: [{ type: 'text', text: 'done' }] },
      ] },
      { role: 'impl', match: 'one:', turns: [
        { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'src/a.ts' } }] },
        { failures: [529], content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/one.ts', content: '1' } }] },
        { content: [{ type: 'tool_use', name: 'complete_task', input: { summary: 'one done' } }] },
      ] },
      { role: 'impl', match: 'two:', turns: [
        { content: [{ type: 'tool_use', name: 'read_file', input: { path: '.env' } }, { type: 'tool_use', name: 'write_file', input: { path: 'src/two.ts', content: '2' } }] },
        { content: [{ type: 'text', text: 'two done' }] },
      ] },
    ] } as any);
    const r = await runCli(['agent:start', '--role', 'control', '-m', 'go', '-w', ws], { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server.url } });
    expect(r.code, r.stderr).to.equal(0);
  });
  after(async () => {
    await server.close();
    removeWorkspace(ws);
  });

  it('records the three sessions with their parents, depths and the server\'s token counts', async () => {
    const sessions = await metricsRows(ws, 'SELECT * FROM sessions ORDER BY depth, started_at');
    expect(sessions).to.have.length(3);
    const [root, ...kids] = sessions;
    expect(root).to.include({ role: 'control', depth: 0, parent_id: null, status: 'completed' });
    for (const k of kids) expect(k).to.include({ role: 'impl', depth: 1, parent_id: root.session_id, root_id: root.session_id, status: 'completed' });
    const usage = server.totalUsage();
    const [sum] = await metricsRows(ws, 'SELECT sum(input_tokens) AS i, sum(output_tokens) AS o, sum(model_calls) AS n FROM sessions');
    expect(sum.i).to.equal(usage.input_tokens);
    expect(sum.o).to.equal(usage.output_tokens);
    expect(sum.n).to.equal(server.responses.length);
    // per session: the sessions row equals the sum over its model_calls
    const mismatch = await metricsRows(ws, `SELECT s.session_id FROM sessions s JOIN (SELECT session_id, sum(input_tokens) i, sum(output_tokens) o, count(*) n FROM model_calls GROUP BY session_id) m USING (session_id)
      WHERE s.input_tokens <> m.i OR s.output_tokens <> m.o OR s.model_calls <> m.n`);
    expect(mismatch).to.deep.equal([]);
  });

  it('holds one model_calls row per answered request, with the retry counted', async () => {
    const calls = await metricsRows(ws, 'SELECT * FROM model_calls');
    expect(calls).to.have.length(server.responses.length);
    expect(calls.reduce((n, c) => n + c.retries, 0)).to.equal(1);
  });

  it('holds every tool call with its decision, rule and resolved path', async () => {
    const calls = await metricsRows(ws, 'SELECT tool, decision, rule, path, is_error FROM tool_calls ORDER BY tool, path');
    expect(calls).to.have.length(7);
    expect(calls.filter((c) => c.tool === 'spawn_impl_session')).to.have.length(2);
    expect(calls.find((c) => c.path === '.env')).to.include({ tool: 'read_file', decision: 'deny', rule: 'reads.deny[0]', is_error: true });
    expect(calls.find((c) => c.path === 'src/one.ts')).to.include({ tool: 'write_file', decision: 'allow', rule: 'roles.impl.allow[0]', is_error: false });
  });

  it('audit:verify passes, then fails after one character of the log is changed', async () => {
    const ok = await runCli(['audit:verify', '-w', ws]);
    expect(ok.code, ok.stderr).to.equal(0);
    const dir = path.join(ws, '.choragen', 'audit');
    const file = path.join(dir, readdirSync(dir)[0]);
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('"completed"');
    writeFileSync(file, text.slice(0, at) + '"complexed"' + text.slice(at + '"completed"'.length));
    const bad = await runCli(['audit:verify', '-w', ws]);
    expect(bad.code).to.equal(1);
    expect(bad.stdout + bad.stderr).to.match(/line \d+/);
    writeFileSync(file, text);
  });

  it('metrics:export --parquet writes real Parquet files', async () => {
    const out = path.join(ws, 'export');
    const r = await runCli(['metrics:export', '--parquet', out, '-w', ws]);
    expect(r.code, r.stderr).to.equal(0);
    for (const table of ['sessions', 'model_calls', 'tool_calls']) {
      const bytes = readFileSync(path.join(out, `${table}.parquet`));
      expect(bytes.subarray(0, 4).toString()).to.equal('PAR1');
      expect(bytes.subarray(-4).toString()).to.equal('PAR1');
    }
  });
});
