import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { auditLogPath } from '../../../runtime/audit/log.js';
import { makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';
import { type SyntheticRun, typicalRun } from '../../support/synthetic-audit.js';

describe('metrics and audit commands (CLI)', function () {
  this.timeout(60000);
  let ws: string;
  let run: SyntheticRun;
  before(() => {
    ws = makeWorkspace();
    run = typicalRun(ws, 'cli-run', 11);
    run.close();
  });
  after(() => removeWorkspace(ws));

  const cli = (...args: string[]) => runCli([...args, '--workspace', ws]);

  describe('metrics:query', () => {
    it('prints an aligned table by default', async () => {
      const r = await cli('metrics:query', 'SELECT session_id, role, model_calls FROM sessions ORDER BY session_id');
      expect(r.code, r.stderr).to.equal(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).to.match(/^session_id\s+role\s+model_calls$/);
      expect(lines[1]).to.match(/^-+ {2}-+ {2}-+$/);
      expect(lines.slice(2, 5).map((l) => l.split(/\s+/)[0])).to.deep.equal(['cli-run', 'cli-run-c1', 'cli-run-c2']);
      // columns line up: every row is as wide as the rule
      expect(lines[2].length).to.equal(lines[1].length);
      expect(lines[5]).to.equal('(3 rows)');
    });

    it('prints JSON rows with numbers as numbers, and CSV', async () => {
      const j = await cli('metrics:query', '--format', 'json', 'SELECT sum(input_tokens) AS t, count(*) AS n, max(ended_at) AS last FROM sessions');
      expect(j.code, j.stderr).to.equal(0);
      const rows = JSON.parse(j.stdout);
      expect(rows).to.have.length(1);
      expect(rows[0].t).to.equal(run.totals().input_tokens);
      expect(rows[0].n).to.equal(3);
      expect(rows[0].last).to.match(/^\d{4}-.*Z$/);

      const c = await cli('metrics:query', '--format', 'csv', `SELECT session_id, final_text, error FROM sessions WHERE session_id = 'cli-run-c2'`);
      expect(c.code, c.stderr).to.equal(0);
      expect(c.stdout).to.equal('session_id,final_text,error\r\ncli-run-c2,could not finish,tool error: old_string not found\r\n');
    });

    it('exits 2 with one line on a SQL error, a write statement or a bad format', async () => {
      for (const args of [['SELECT nope FROM sessions'], ['DELETE FROM sessions'], ['--format', 'xml', 'SELECT 1']]) {
        const r = await cli('metrics:query', ...args);
        expect(r.code, args.join(' ')).to.equal(2);
        expect(r.stderr.trimEnd().split('\n')).to.have.length(1);
        expect(r.stderr).to.match(/^choragen: /);
      }
    });

    it('tells a syntax error from a statement that would change something (issue 19 item 8)', async () => {
      const typo = await cli('metrics:query', 'SELEC session_id FROM sessions');
      expect(typo.code).to.equal(2);
      expect(typo.stderr).to.match(/^choragen: SQL error: Parser Error: syntax error at or near "SELEC"/);
      for (const sql of ['DELETE FROM sessions', '  /* hi */ DROP TABLE sessions', "COPY sessions TO '/tmp/x.csv'", "ATTACH '/tmp/x.db'"]) {
        const write = await cli('metrics:query', sql);
        expect(write.code, sql).to.equal(2);
        expect(write.stderr, sql).to.match(/^choragen: metrics:query runs read-only SQL .* would change something/);
      }
    });

    it('cannot read files outside the metrics database (enable_external_access off)', async () => {
      const secret = path.join(ws, 'secret.txt');
      fs.writeFileSync(secret, 'top secret');
      for (const sql of [`SELECT * FROM read_text('${secret}')`, `SELECT * FROM read_csv('${secret}')`, `SELECT * FROM glob('/etc/*')`]) {
        const r = await cli('metrics:query', '--format', 'json', sql);
        expect(r.code, sql).to.equal(2);
        expect(r.stdout, sql).to.not.include('top secret');
        expect(r.stderr, sql).to.match(/Permission Error|disabled by configuration/);
      }
    });

    it('shows numbers rounded and aligned, a missing value as "-", never NULL', async () => {
      const r = await cli('metrics:query', 'SELECT 655.4417300909091 AS ms, 0.00366 AS usd, NULL AS gone, 12 AS n UNION ALL SELECT 1.5, 0.1, NULL, 7');
      expect(r.code, r.stderr).to.equal(0);
      const [head, , first, second] = r.stdout.split('\n');
      expect(head).to.match(/^\s*ms\s+usd\s+gone\s+n$/);
      expect(first).to.match(/^655\.44\s+0\.0037\s+-\s+12$/);
      expect(second).to.match(/^\s+1\.50\s+0\.1000\s+-\s+7$/);
      expect(r.stdout).to.not.include('NULL');
      expect(first!.length).to.equal(second!.length);
    });
  });

  describe('metrics:summary', () => {
    it('summarizes sessions, tokens, cost, tools and denials as JSON and as text', async () => {
      const j = await cli('metrics:summary', '--json');
      expect(j.code, j.stderr).to.equal(0);
      const s = JSON.parse(j.stdout);
      expect(s.totals).to.include({ sessions: 3, input_tokens: run.totals().input_tokens, tool_calls: 6 });
      const byStatus = (role: string, status: string) => s.sessions.find((x: { role: string; status: string }) => x.role === role && x.status === status);
      expect(byStatus('impl', 'failed')).to.include({ sessions: 1 });
      expect(byStatus('impl', 'completed')).to.include({ sessions: 1 });
      expect(byStatus('control', 'completed')).to.include({ sessions: 1 });
      expect(s.denials).to.deep.equal([{ rule: 'roles.impl.deny[0]', decision: 'deny', calls: 1 }]);
      expect(s.top_tools[0]).to.include({ tool: 'read_file', calls: 2, errors: 1 });
      expect(s.slowest_tool_calls).to.have.length(5);
      expect(s.query_ms).to.be.a('number');
      // Tokens and cost by role and by the model and provider it ran on: the rows add up to the totals.
      expect(s.models.map((m: any) => [m.role, m.model, m.provider, m.sessions])).to.deep.equal([
        ['control', 'claude-sonnet-4-5', 'anthropic', 1], ['impl', 'claude-sonnet-4-5', 'anthropic', 2],
      ]);
      expect(s.models.reduce((a: number, m: any) => a + m.input_tokens, 0)).to.equal(run.totals().input_tokens);
      expect(s.models.reduce((a: number, m: any) => a + m.cost_usd, 0)).to.be.closeTo(s.totals.cost_usd, 1e-9);

      const t = await cli('metrics:summary', '--since', '1h');
      expect(t.code, t.stderr).to.equal(0);
      expect(t.stdout).to.match(/^Sessions since .*: 3 /);
      expect(t.stdout).to.contain('Denials by rule:').and.to.contain('roles.impl.deny[0]');
      expect(t.stdout).to.match(/By role and model:\nrole\s+model\s+provider\s+sessions\s+in\s+out\s+cache_read\s+cache_write\s+cost\n.*\ncontrol\s+claude-sonnet-4-5\s+anthropic\s+1\s/);

      const future = await cli('metrics:summary', '--since', '2999-01-01', '--json');
      expect(JSON.parse(future.stdout).totals.sessions).to.equal(0);
      const bad = await cli('metrics:summary', '--since', 'yesterday');
      expect(bad.code).to.equal(2);
    });
  });

  describe('metrics:export', () => {
    it('writes one Parquet file per table that DuckDB reads back', async () => {
      const dir = path.join(ws, 'export');
      const r = await cli('metrics:export', '--parquet', dir);
      expect(r.code, r.stderr).to.equal(0);
      expect(fs.readdirSync(dir).sort()).to.deep.equal(['model_calls.parquet', 'sessions.parquet', 'tool_calls.parquet']);
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const db = await DuckDBInstance.create(':memory:');
      const conn = await db.connect();
      const read = async (t: string) => (await conn.runAndReadAll(`SELECT * FROM read_parquet('${path.join(dir, `${t}.parquet`)}')`)).getRowObjectsJS();
      const sessions = await read('sessions');
      const modelCalls = await read('model_calls');
      const toolCalls = await read('tool_calls');
      conn.closeSync();
      db.closeSync();
      expect(sessions).to.have.length(3);
      expect(modelCalls).to.have.length(run.totals().model_calls);
      expect(toolCalls).to.have.length(6);
      expect(modelCalls.reduce((a, m) => a + Number(m.input_tokens), 0)).to.equal(run.totals().input_tokens);
      expect(r.stdout).to.match(/sessions\.parquet {2}3 rows/);
    });
  });

  describe('agent:list and agent:show', () => {
    it('lists recent sessions as a table and as JSON', async () => {
      const t = await cli('agent:list');
      expect(t.code, t.stderr).to.equal(0);
      const lines = t.stdout.trimEnd().split('\n');
      expect(lines[0]).to.match(/^id\s+role\s+model\s+parent\s+status\s+age\s+tokens\s+instructions$/);
      expect(lines).to.have.length(6);
      expect(t.stdout).to.match(/cli-run-c2\s+impl\s+claude-sonnet-4-5 \(anthropic\)\s+cli-run\s+failed\s+\d+s/);
      expect(lines[5]).to.equal('3 sessions');
      // How many are not shown, and how to see them.
      const two = (await cli('agent:list', '--limit', '2')).stdout.trimEnd().split('\n');
      expect(two.at(-1)).to.equal('2 of 3 sessions, newest first; 1 more not shown (--limit 3 shows all)');

      const j = await cli('agent:list', '--limit', '2', '--json');
      const rows = JSON.parse(j.stdout);
      expect(rows).to.have.length(2);
      expect(rows[0]).to.include.keys('session_id', 'role', 'model', 'provider', 'parent_id', 'status', 'started_at', 'tokens');
      expect(rows[0]).to.include({ model: 'claude-sonnet-4-5', provider: 'anthropic' });
      expect((await cli('agent:list', '--limit', 'x')).code).to.equal(2);
    });

    it('shows a session with its children, tool calls and final output; an unknown id exits 2', async () => {
      const r = await cli('agent:show', 'cli-run');
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^session cli-run {2}control {2}completed/);
      expect(r.stdout).to.match(/model: claude-sonnet-4-5 \(anthropic\)/);
      expect(r.stdout).to.match(/Children:\n.*\n.*\ncli-run-c1\s+impl\s+claude-sonnet-4-5 \(anthropic\)\s+completed/);
      expect(r.stdout).to.match(/spawn_impl_session\s+allow\s+roles\.impl\.allow\[0\]/);
      expect(r.stdout).to.match(/Final output:\nall tasks done\n$/);

      const child = await cli('agent:show', 'cli-run-c2', '--json');
      const d = JSON.parse(child.stdout);
      expect(d.session).to.include({ status: 'failed', final_text: 'could not finish' });
      expect(d.tool_calls[0]).to.include({ tool: 'read_file', decision: 'deny', rule: 'roles.impl.deny[0]', path: '.env' });

      const unknown = await cli('agent:show', 'nobody');
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.match(/^choragen: unknown session id: nobody/);
    });
  });

  describe('audit:verify', () => {
    it('verifies every log or one, and names the first broken line of a tampered log', async () => {
      const other = typicalRun(ws, 'cli-other', 12);
      other.close();
      const ok = await cli('audit:verify');
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.equal(`verified 2 logs, ${run.log.lines + other.log.lines} lines: chain intact\n`);
      const one = await cli('audit:verify', 'cli-other');
      expect(one.stdout).to.equal(`verified .choragen/audit/cli-other.jsonl, ${other.log.lines} lines: chain intact\n`);
      // A unique prefix, or a child's id (prefix), finds the run's log, as agent:show finds sessions.
      expect((await cli('audit:verify', 'cli-o')).stdout).to.equal(one.stdout);
      const child = await cli('audit:verify', 'cli-run-c');
      expect(child.code, child.stderr).to.equal(2);
      expect(child.stderr).to.match(/ambiguous: cli-run-c1, cli-run-c2/);
      expect((await cli('audit:verify', 'cli-run-c2')).stdout)
        .to.equal(`verified .choragen/audit/cli-run.jsonl (the log of the run that holds session cli-run-c2), ${run.log.lines} lines: chain intact\n`);
      expect((await cli('audit:verify', 'cli-')).stderr).to.match(/ambiguous: cli-other, cli-run\n/);

      const file = auditLogPath(ws, 'cli-other');
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      lines[3] = lines[3].replace('"ts":"2', '"ts":"1');
      fs.writeFileSync(file, lines.join('\n'));
      const bad = await cli('audit:verify');
      expect(bad.code).to.equal(1);
      expect(bad.stdout).to.match(/^\.choragen\/audit\/cli-other\.jsonl:4: changed after it was written/);

      const unknown = await cli('audit:verify', 'nope');
      expect(unknown.code).to.equal(2);
    });
  });
});
