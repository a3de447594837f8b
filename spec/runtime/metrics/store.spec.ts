import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, auditLogPath } from '../../../runtime/audit/log.js';
import { UsageError } from '../../../policy/errors.js';
import { INTERRUPTED_ERROR } from '../../../runtime/metrics/ingest.js';
import { SCHEMA_VERSION, SESSIONS } from '../../../runtime/metrics/schema.js';
import { ingestWorkspace, queryMetrics } from '../../../runtime/metrics/store.js';
import { packageRoot, workspacePaths } from '../../../runtime/paths.js';
import { costOf, FALLBACK_PRICE, isKnownModel, priceOf } from '../../../runtime/providers/pricing.js';
import { SyntheticRun, appendChained, typicalRun } from '../../support/synthetic-audit.js';
import { verifyAuditFile } from '../../../runtime/audit/verify.js';

/** A pid that is not running: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

/** Another process that opens the metrics database and keeps it (DuckDB's real file lock). */
async function holdDatabase(dbFile: string): Promise<ChildProcess> {
  const script = `
    import { DuckDBInstance } from '@duckdb/node-api';
    const db = await DuckDBInstance.create(${JSON.stringify(dbFile)});
    const conn = await db.connect();
    await conn.run('SELECT 1');
    process.stdout.write('holding\\n');
    process.stdin.resume();
    process.stdin.on('end', () => { conn.closeSync(); db.closeSync(); process.exit(0); });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: packageRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return child;
}

async function release(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.stdin!.end();
  await exited;
}

const one = async (ws: string, sql: string) => (await queryMetrics(ws, sql)).rows[0];

describe('metrics store', function () {
  this.timeout(30000);
  let ws: string;
  beforeEach(() => {
    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-metrics-'));
  });
  afterEach(() => fs.rmSync(ws, { recursive: true, force: true }));

  it('ingests audit logs into sessions, model_calls and tool_calls with exact sums', async () => {
    const a = typicalRun(ws, 'run-a', 1);
    const b = typicalRun(ws, 'run-b', 2);
    a.close();
    b.close();
    const r = await ingestWorkspace(ws);
    expect(r).to.deep.include({ deferred: false, logs: 2 });
    expect(r.lines).to.equal(a.log.lines + b.log.lines);

    for (const run of [a, b]) {
      for (const e of run.expected.values()) {
        const row = await one(ws, `SELECT * FROM sessions WHERE session_id = '${e.session_id}'`);
        expect(row).to.include({
          parent_id: e.parent_id,
          input_tokens: e.input_tokens,
          output_tokens: e.output_tokens,
          cache_read_tokens: e.cache_read_tokens,
          cache_write_tokens: e.cache_write_tokens,
          model_calls: e.model_calls,
          tool_calls: e.tool_calls,
          root_id: run.rootId,
        });
        expect(row.cost_usd).to.be.closeTo(e.cost_usd, 1e-8);
      }
    }
    // The sessions table never double counts: its totals are the sums over the calls, exactly.
    const sums = await one(
      ws,
      `SELECT (SELECT sum(input_tokens) FROM sessions) AS s_in, (SELECT sum(input_tokens) FROM model_calls) AS m_in,
              (SELECT sum(output_tokens) FROM sessions) AS s_out, (SELECT sum(output_tokens) FROM model_calls) AS m_out,
              (SELECT sum(cache_read_tokens) FROM sessions) AS s_cr, (SELECT sum(cache_read_tokens) FROM model_calls) AS m_cr,
              (SELECT sum(cost_usd) FROM sessions) AS s_cost, (SELECT sum(cost_usd) FROM model_calls) AS m_cost,
              (SELECT sum(tool_calls) FROM sessions) AS s_tools, (SELECT count(*) FROM tool_calls) AS t_rows`,
    );
    const total = (k: 'input_tokens' | 'output_tokens' | 'cache_read_tokens') => a.totals()[k] + b.totals()[k];
    expect(sums.s_in).to.equal(total('input_tokens')).and.to.equal(sums.m_in);
    expect(sums.s_out).to.equal(total('output_tokens')).and.to.equal(sums.m_out);
    expect(sums.s_cr).to.equal(total('cache_read_tokens')).and.to.equal(sums.m_cr);
    expect(sums.s_cost).to.equal(sums.m_cost);
    expect(sums.s_tools).to.equal(sums.t_rows).and.to.equal(a.totals().tool_calls + b.totals().tool_calls);

    const child = await one(ws, `SELECT * FROM sessions WHERE session_id = 'run-a-c2'`);
    expect(child).to.include({ status: 'failed', error: 'tool error: old_string not found', role: 'impl', depth: 1, final_text: 'could not finish' });
    expect(child.files_changed).to.deep.equal(['src/index.ts']);
    expect(child.started_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const denial = await one(ws, `SELECT * FROM tool_calls WHERE decision = 'deny' AND session_id = 'run-a-c2'`);
    expect(denial).to.include({ tool: 'read_file', rule: 'roles.impl.deny[0]', path: '.env', is_error: true, seq: 1 });
  });

  it('records run_command\'s command line and exit code in tool_calls, and nothing there for other tools', async () => {
    const run = new SyntheticRun(ws, 'cmd');
    run.start('cmd', null, 'impl').toolCall('cmd', 'read_file');
    const base = { type: 'tool_call' as const, session_id: 'cmd', tool: 'run_command', started_at: new Date().toISOString(), duration_ms: 40, is_error: false, error: null };
    run.append({ ...base, seq: 2, tool_use_id: 'toolu_c2', decision: 'allow', rule: 'roles.impl.commands.allow[0]', path: '.', command: "node --test 'a b'", exit_code: 1 });
    run.append({ ...base, seq: 3, tool_use_id: 'toolu_c3', decision: 'deny', rule: 'builtin.shell', path: '.', is_error: true, error: 'denied', command: 'sh -c id', exit_code: null });
    run.end('cmd');
    run.close();
    await ingestWorkspace(ws);
    const rows = (await queryMetrics(ws, 'SELECT seq, tool, command, exit_code FROM tool_calls ORDER BY seq')).rows;
    expect(rows).to.deep.equal([
      { seq: 1, tool: 'read_file', command: null, exit_code: null },
      { seq: 2, tool: 'run_command', command: "node --test 'a b'", exit_code: 1 },
      { seq: 3, tool: 'run_command', command: 'sh -c id', exit_code: null },
    ]);
  });

  it('is idempotent, continues a log that grew, and counts nothing twice', async () => {
    const run = new SyntheticRun(ws, 'grow', { seed: 3 });
    run.start('grow').modelCall('grow').toolCall('grow');
    expect((await ingestWorkspace(ws)).lines).to.equal(4);
    expect(await ingestWorkspace(ws)).to.deep.equal({ deferred: false, logs: 0, lines: 0, calls: 0, damaged: [] });

    run.modelCall('grow').toolCall('grow').modelCall('grow').end('grow');
    run.close();
    const r = await ingestWorkspace(ws);
    expect(r).to.deep.include({ logs: 1, lines: 5, calls: 3 }); // with the log_closed line
    expect((await ingestWorkspace(ws)).lines).to.equal(0);
    const row = await one(ws, `SELECT status, model_calls, tool_calls, input_tokens, (SELECT count(*) FROM model_calls) AS rows FROM sessions`);
    const e = run.expected.get('grow')!;
    expect(row).to.deep.equal({ status: 'completed', model_calls: 3, tool_calls: 2, input_tokens: e.input_tokens, rows: 3 });
  });

  it('keeps every row of a bulk ingest (more calls than a row group) and of the ingests after it', async () => {
    const run = new SyntheticRun(ws, 'bulk', { seed: 9 });
    run.start('bulk');
    for (let i = 0; i < 130_000; i++) run.toolCall('bulk');
    expect(await ingestWorkspace(ws)).to.deep.include({ calls: 130_000 });
    run.modelCall('bulk').toolCall('bulk').end('bulk');
    run.close();
    expect(await ingestWorkspace(ws)).to.deep.include({ calls: 2 });
    const counts = `SELECT (SELECT count(*) FROM tool_calls) AS tools, (SELECT count(DISTINCT seq) FROM tool_calls) AS seqs, tool_calls FROM sessions`;
    expect(await one(ws, counts)).to.deep.equal({ tools: 130_001, seqs: 130_001, tool_calls: 130_001 });
  });

  it('ingests the complete lines of a log that is being written, and no half line', async () => {
    const run = new SyntheticRun(ws, 'half', { seed: 4 });
    run.start('half').modelCall('half').toolCall('half');
    run.close();
    fs.appendFileSync(auditLogPath(ws, 'half'), '{"line_seq":5,"ts":"2026-01-05T09:00:00.000Z","session_id":"half","type":"model_call","seq":2,"input_t');
    expect(await ingestWorkspace(ws)).to.deep.include({ lines: 5, calls: 2 }); // with the log_closed line
    expect(await one(ws, 'SELECT input_tokens, model_calls FROM sessions')).to.deep.equal({
      input_tokens: run.expected.get('half')!.input_tokens,
      model_calls: 1,
    });
  });

  it('reads every call whatever the shape of its line: keys in another order, an escaped type', async () => {
    const run = new SyntheticRun(ws, 'shapes', { seed: 5 });
    run.start('shapes').modelCall('shapes').toolCall('shapes');
    run.close();
    // Lines another writer (or an older version) could have written: valid JSON, not AuditLog's head.
    const at = '2026-01-05T09:00:00.000Z';
    appendChained(auditLogPath(ws, 'shapes'), [
      ...[
        { seq: 2, type: 'model_call', session_id: 'shapes', line_seq: 5, ts: at, started_at: at, duration_ms: 5, model: 'm', input_tokens: 1000, output_tokens: 10, cost_usd: 0.5 },
        { type: 'tool_call', line_seq: 6, ts: at, session_id: 'shapes', seq: 2, tool: 'read_file', started_at: at, duration_ms: 1, decision: 'allow', is_error: false },
      ].map((e) => JSON.stringify(e)),
      `{"line_seq":7,"ts":"${at}","session_id":"shapes","type":"tool\\u005fcall","seq":3,"tool":"list_files","started_at":"${at}","decision":"allow"}`,
      `{"line_seq":8,"ts":"${at}","session_id":"shapes","type":"model\\u005fcall","seq":3,"started_at":"${at}","input_tokens":1}`,
    ]);
    expect(verifyAuditFile(auditLogPath(ws, 'shapes'))).to.deep.include({ ok: true });
    expect(await ingestWorkspace(ws)).to.deep.include({ lines: 9, calls: 6 }); // 4 lines, the log_closed line, 4 more
    const e = run.expected.get('shapes')!;
    expect(await one(ws, `SELECT model_calls, tool_calls, input_tokens FROM sessions`)).to.deep.equal({
      model_calls: 3,
      tool_calls: 3,
      input_tokens: e.input_tokens + 1001,
    });
    expect(await one(ws, `SELECT string_agg(tool, ',' ORDER BY seq) AS tools FROM tool_calls`)).to.deep.equal({ tools: 'read_file,read_file,list_files' });
  });

  it('keeps its split files beside the database only while it ingests, and clears those a killed ingest left', async () => {
    typicalRun(ws, 'tidy').close();
    const state = workspacePaths(ws).state;
    const dead = path.join(state, `ingest-${await deadPid()}-x1`);
    const live = path.join(state, `ingest-${process.pid}-x2`);
    for (const dir of [dead, live]) {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, '0.model.jsonl'), '');
    }
    await ingestWorkspace(ws);
    expect(fs.readdirSync(state).filter((n) => n.startsWith('ingest-'))).to.deep.equal([path.basename(live)]);
  });

  it('answers from empty tables, creating nothing, where there is no .choragen directory', async () => {
    expect(await one(ws, 'SELECT count(*) AS n FROM sessions')).to.deep.equal({ n: 0 });
    expect(fs.readdirSync(ws)).to.deep.equal([]);
    expect(await ingestWorkspace(ws)).to.deep.equal({ deferred: false, logs: 0, lines: 0, calls: 0, damaged: [] });
  });

  it('ingests a log that was replaced from the start again, without duplicates', async () => {
    typicalRun(ws, 'swap', 1).close();
    await ingestWorkspace(ws);
    fs.rmSync(auditLogPath(ws, 'swap'));
    const again = typicalRun(ws, 'swap', 9);
    again.close();
    await ingestWorkspace(ws);
    const row = await one(ws, `SELECT sum(input_tokens) AS t, count(*) AS n FROM model_calls`);
    expect(row).to.deep.equal({ t: again.totals().input_tokens, n: again.totals().model_calls });
  });

  it('marks a session without an end as running while its writer lives, interrupted once it is gone', async () => {
    const live = new SyntheticRun(ws, 'live', { pid: process.pid });
    live.start('live').modelCall('live');
    const dead = new SyntheticRun(ws, 'dead', { pid: await deadPid() });
    dead.start('dead').modelCall('dead').start('dead-c', 'dead').end('dead-c');
    dead.close();
    await ingestWorkspace(ws);
    expect(await one(ws, `SELECT status, error FROM sessions WHERE session_id = 'live'`)).to.deep.equal({ status: 'running', error: null });
    expect(await one(ws, `SELECT status, error FROM sessions WHERE session_id = 'dead'`)).to.deep.equal({ status: 'interrupted', error: INTERRUPTED_ERROR });
    expect(await one(ws, `SELECT status FROM sessions WHERE session_id = 'dead-c'`)).to.deep.equal({ status: 'completed' });

    // The live log's writer "dies" (its log is resumed by another process): sessions open before are interrupted.
    live.close();
    const resumed = AuditLog.resume(auditLogPath(ws, 'live'));
    resumed.append({ type: 'session_started', session_id: 'live-2', parent_id: null, root_id: 'live', role: 'control', depth: 0,
      model: 'claude-sonnet-4-5', task_id: null, chain_id: null, started_at: new Date().toISOString(), tools: [], resumed_from: 'live' });
    resumed.close();
    await ingestWorkspace(ws);
    const rows = (await queryMetrics(ws, `SELECT session_id, status, resumed_from FROM sessions WHERE root_id = 'live' ORDER BY session_id`)).rows;
    expect(rows).to.deep.equal([
      { session_id: 'live', status: 'interrupted', resumed_from: null },
      { session_id: 'live-2', status: 'running', resumed_from: 'live' },
    ]);
  });

  it('defers ingestion while another process holds the database, answers queries from the logs, then ingests once', async () => {
    const run = typicalRun(ws, 'locked', 5);
    run.close();
    fs.mkdirSync(workspacePaths(ws).state, { recursive: true });
    const holder = await holdDatabase(workspacePaths(ws).metrics);
    try {
      expect(await ingestWorkspace(ws, { lockWaitMs: 300 })).to.deep.include({ deferred: true, logs: 0, lines: 0, calls: 0, damaged: [] });
      const answer = await queryMetrics(ws, 'SELECT sum(input_tokens) AS t FROM sessions', { lockWaitMs: 300 });
      expect(answer.rows).to.deep.equal([{ t: run.totals().input_tokens }]);
    } finally {
      await release(holder);
    }
    const r = await ingestWorkspace(ws);
    expect(r).to.deep.include({ deferred: false, logs: 1, lines: run.log.lines });
    expect((await ingestWorkspace(ws)).lines).to.equal(0);
    expect(await one(ws, 'SELECT sum(input_tokens) AS t, count(*) AS n FROM model_calls')).to.deep.equal({
      t: run.totals().input_tokens,
      n: run.totals().model_calls,
    });
  });

  it('adds missing columns to a database written by an older version, and rebuilds rows it cannot attribute from the logs', async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    fs.mkdirSync(workspacePaths(ws).state, { recursive: true });
    const db = await DuckDBInstance.create(workspacePaths(ws).metrics);
    const conn = await db.connect();
    await conn.run(`CREATE TABLE tool_calls (session_id VARCHAR, seq INTEGER, tool VARCHAR, started_at TIMESTAMP, duration_ms DOUBLE,
      decision VARCHAR, rule VARCHAR, path VARCHAR, is_error BOOLEAN, error VARCHAR)`);
    await conn.run(`INSERT INTO tool_calls VALUES ('old', 1, 'read_file', now()::TIMESTAMP, 1.5, 'allow', NULL, 'a', false, NULL)`);
    conn.closeSync();
    db.closeSync();
    typicalRun(ws, 'newer').close();
    await ingestWorkspace(ws);
    const cols = (await queryMetrics(ws, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'tool_calls' ORDER BY column_index`)).rows;
    expect(cols.map((c) => c.column_name)).to.deep.equal([
      'session_id', 'seq', 'tool', 'started_at', 'duration_ms', 'decision', 'rule', 'path', 'is_error', 'error', 'root_id', 'log_id',
      'command', 'exit_code',
    ]);
    expect(await one(ws, `SELECT count(*) AS n, count(*) FILTER (WHERE session_id = 'old') AS old FROM tool_calls`)).to.deep.equal({ n: 6, old: 0 });
    expect(await one(ws, 'SELECT version FROM schema_version')).to.deep.equal({ version: SCHEMA_VERSION });
  });

  it('schema versions 4 to 6: a version 3 database gains sessions.provider, compactions and resumed_by as its last columns; sessions of new logs record them', async () => {
    typicalRun(ws, 'v3').close();
    await ingestWorkspace(ws);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(workspacePaths(ws).metrics);
    const conn = await db.connect();
    await conn.run('ALTER TABLE sessions DROP COLUMN provider; ALTER TABLE sessions DROP COLUMN compactions; ALTER TABLE sessions DROP COLUMN resumed_by; UPDATE schema_version SET version = 3');
    conn.closeSync();
    db.closeSync();
    const run = new SyntheticRun(ws, 'v4', { seed: 9 });
    run.start('v4').start('v4-r', 'v4', 'reviewer', 'openai').modelCall('v4-r').end('v4-r').end('v4');
    run.close();
    await ingestWorkspace(ws);
    const cols = (await queryMetrics(ws, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'sessions' ORDER BY column_index`)).rows;
    expect(cols.map((c) => c.column_name)).to.deep.equal(SESSIONS.columns.map(([n]) => n));
    expect(cols.slice(-3).map((c) => c.column_name)).to.deep.equal(['provider', 'compactions', 'resumed_by']);
    const rows = (await queryMetrics(ws, `SELECT session_id, role, provider FROM sessions WHERE root_id = 'v4' ORDER BY session_id`)).rows;
    expect(rows).to.deep.equal([
      { session_id: 'v4', role: 'control', provider: 'anthropic' },
      { session_id: 'v4-r', role: 'reviewer', provider: 'openai' },
    ]);
    // the rows it had are kept, with no compactions
    const old = await one(ws, `SELECT count(*) AS n, count(*) FILTER (WHERE compactions = 0) AS zero FROM sessions WHERE root_id = 'v3'`);
    expect(old.n).to.be.greaterThan(0);
    expect(old.zero).to.equal(old.n);
    expect(await one(ws, 'SELECT version FROM schema_version')).to.deep.equal({ version: SCHEMA_VERSION });
  });

  it('schema version 5: a version 4 database gains tool_calls.command and exit_code at the end; calls of new logs record them', async () => {
    typicalRun(ws, 'v4').close();
    await ingestWorkspace(ws);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(workspacePaths(ws).metrics);
    const conn = await db.connect();
    await conn.run('DROP VIEW tool_calls; ALTER TABLE tool_call_rows DROP COLUMN command; ALTER TABLE tool_call_rows DROP COLUMN exit_code; UPDATE schema_version SET version = 4');
    conn.closeSync();
    db.closeSync();
    const run = new SyntheticRun(ws, 'v5');
    run.start('v5', null, 'impl');
    run.append({ type: 'tool_call', session_id: 'v5', seq: 1, tool: 'run_command', tool_use_id: 't', started_at: new Date().toISOString(), duration_ms: 3, decision: 'allow', rule: 'r', path: '.', is_error: false, error: null, command: 'npm test', exit_code: 0 });
    run.end('v5');
    run.close();
    await ingestWorkspace(ws);
    const cols = (await queryMetrics(ws, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'tool_calls' ORDER BY column_index`)).rows;
    expect(cols.slice(-2).map((c) => c.column_name)).to.deep.equal(['command', 'exit_code']);
    expect(await one(ws, `SELECT command, exit_code FROM tool_calls WHERE session_id = 'v5'`)).to.deep.equal({ command: 'npm test', exit_code: 0 });
    expect(await one(ws, `SELECT count(*) AS n FROM tool_calls WHERE command IS NOT NULL`)).to.deep.equal({ n: 1 });
    expect(await one(ws, 'SELECT version FROM schema_version')).to.deep.equal({ version: SCHEMA_VERSION });
  });

  it('rebuilds a database whose calls are tables (version 2) into rows behind views, counting nothing twice', async () => {
    typicalRun(ws, 'v2-a', 1).close();
    typicalRun(ws, 'v2-b', 2).close();
    await ingestWorkspace(ws);
    const counts = `SELECT (SELECT count(*) FROM tool_calls) AS tools, (SELECT count(*) FROM model_calls) AS models,
      (SELECT count(DISTINCT log_id) FROM tool_calls) AS logs, (SELECT sum(tool_calls) FROM sessions) AS session_tools`;
    const before = await one(ws, counts);
    expect(before.tools).to.be.greaterThan(0);
    // Turn the file into version 2's layout, with its data: public tables, no rows tables.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(workspacePaths(ws).metrics);
    const conn = await db.connect();
    for (const t of ['tool_calls', 'model_calls']) {
      await conn.run(`CREATE TABLE ${t}_v2 AS SELECT * FROM ${t}; DROP VIEW ${t}; ALTER TABLE ${t}_v2 RENAME TO ${t}`);
    }
    await conn.run('DROP TABLE tool_call_rows; DROP TABLE model_call_rows; DROP TABLE audit_logs; UPDATE schema_version SET version = 2');
    conn.closeSync();
    db.closeSync();
    expect(await one(ws, counts)).to.deep.equal(before);
    const kinds = await queryMetrics(ws, `SELECT table_name AS name, table_type AS kind FROM information_schema.tables
      WHERE table_name IN ('tool_calls', 'model_calls', 'tool_call_rows', 'model_call_rows') ORDER BY name`);
    expect(kinds.rows).to.deep.equal([
      { name: 'model_call_rows', kind: 'BASE TABLE' }, { name: 'model_calls', kind: 'VIEW' },
      { name: 'tool_call_rows', kind: 'BASE TABLE' }, { name: 'tool_calls', kind: 'VIEW' },
    ]);
    expect(await one(ws, 'SELECT version FROM schema_version')).to.deep.equal({ version: SCHEMA_VERSION });
  });

  it('counts each session\'s compactions from its compaction events, also in a log that grew', async () => {
    const run = new SyntheticRun(ws, 'cmp', { seed: 3 });
    const compaction = (session: string) => run.log.append({
      type: 'compaction', session_id: session, reason: 'threshold', window_tokens: 60000, tokens_before: 45000,
      tokens_after: 20000, messages_before: 41, messages_after: 41, stubbed: 12, dropped_turns: 0,
    });
    run.start('cmp').modelCall('cmp').start('cmp-c', 'cmp').modelCall('cmp-c');
    compaction('cmp-c');
    await ingestWorkspace(ws);
    compaction('cmp-c');
    compaction('cmp');
    run.modelCall('cmp-c').end('cmp-c').end('cmp');
    run.close();
    await ingestWorkspace(ws);
    const rows = await queryMetrics(ws, 'SELECT session_id, compactions FROM sessions ORDER BY session_id');
    expect(rows.rows).to.deep.equal([{ session_id: 'cmp', compactions: 1 }, { session_id: 'cmp-c', compactions: 2 }]);
  });

  it('keeps a resumed run (a new log whose sessions name the old root) in the tree of the run it continues', async () => {
    const first = new SyntheticRun(ws, 'tree', { pid: await deadPid(), seed: 5 });
    first.start('tree').modelCall('tree').start('tree-c', 'tree').modelCall('tree-c');
    await ingestWorkspace(ws);
    first.modelCall('tree-c').end('tree-c');
    first.close();
    const resumed = new SyntheticRun(ws, 'tree-r', { seed: 6 });
    resumed.append({ type: 'session_started', session_id: 'tree-r', parent_id: null, root_id: 'tree', role: 'control', depth: 0,
      model: 'claude-sonnet-4-5', task_id: null, chain_id: null, started_at: new Date().toISOString(), tools: [], resumed_from: 'tree' });
    resumed.append({ type: 'model_call', session_id: 'tree-r', seq: 1, started_at: new Date().toISOString(), duration_ms: 5, model: 'claude-sonnet-4-5',
      input_tokens: 1000, output_tokens: 10, cache_read_tokens: 0, cache_write_tokens: 0, cost_usd: 0.00315, stop_reason: 'end_turn', retries: 0 });
    resumed.end('tree-r');
    resumed.close();
    await ingestWorkspace(ws);
    const rows = (await queryMetrics(ws, `SELECT session_id, root_id, log_id, status, resumed_from, model_calls FROM sessions ORDER BY session_id`)).rows;
    expect(rows).to.deep.equal([
      { session_id: 'tree', root_id: 'tree', log_id: 'tree', status: 'interrupted', resumed_from: null, model_calls: 1 },
      { session_id: 'tree-c', root_id: 'tree', log_id: 'tree', status: 'completed', resumed_from: null, model_calls: 2 },
      { session_id: 'tree-r', root_id: 'tree', log_id: 'tree-r', status: 'completed', resumed_from: 'tree', model_calls: 1 },
    ]);
    expect((await queryMetrics(ws, `SELECT session_id, resumed_by FROM sessions ORDER BY session_id`)).rows).to.deep.equal([
      { session_id: 'tree', resumed_by: 'tree-r' }, { session_id: 'tree-c', resumed_by: null }, { session_id: 'tree-r', resumed_by: null },
    ]);
    const perTree = (await queryMetrics(ws, `SELECT root_id, sum(input_tokens) AS t, count(*) AS n FROM model_calls GROUP BY root_id`)).rows;
    const expected = first.totals().input_tokens + 1000;
    expect(perTree).to.deep.equal([{ root_id: 'tree', t: expected, n: 4 }]);
    expect(await one(ws, `SELECT sum(input_tokens) AS t FROM sessions WHERE root_id = 'tree'`)).to.deep.equal({ t: expected });
  });

  it('names the session that resumed one (resumed_by), when the two logs are ingested at different times', async () => {
    const first = new SyntheticRun(ws, 'orig', { pid: await deadPid(), seed: 3 });
    first.start('orig').modelCall('orig').toolCall('orig');
    first.close();
    await ingestWorkspace(ws);
    expect(await one(ws, `SELECT status, resumed_by FROM sessions WHERE session_id = 'orig'`)).to.deep.equal({ status: 'interrupted', resumed_by: null });
    const again = new SyntheticRun(ws, 'orig-r', { seed: 4 });
    again.append({ type: 'session_started', session_id: 'orig-r', parent_id: null, root_id: 'orig', role: 'control', depth: 0,
      model: 'claude-sonnet-4-5', task_id: null, chain_id: null, started_at: new Date().toISOString(), tools: [], resumed_from: 'orig' });
    again.end('orig-r');
    again.close();
    await ingestWorkspace(ws);
    expect(await one(ws, `SELECT status, resumed_by FROM sessions WHERE session_id = 'orig'`)).to.deep.equal({ status: 'interrupted', resumed_by: 'orig-r' });
    const cols = (await queryMetrics(ws, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'sessions' ORDER BY column_index`)).rows;
    expect(cols.map((c) => c.column_name).slice(-2)).to.deep.equal(['compactions', 'resumed_by']);
  });

  describe('queryMetrics', () => {
    beforeEach(() => typicalRun(ws, 'q').close());

    it('returns numbers as numbers and timestamps as ISO strings', async () => {
      const r = await queryMetrics(ws, `SELECT sum(input_tokens) AS hugeint_sum, count(*) AS big, 1.5::DECIMAL(4,2) AS dec,
        max(started_at) AS ts, list(session_id ORDER BY session_id) AS ids FROM sessions`);
      expect(r.columns).to.deep.equal(['hugeint_sum', 'big', 'dec', 'ts', 'ids']);
      const row = r.rows[0];
      expect(row.hugeint_sum).to.be.a('number');
      expect(row.big).to.equal(3);
      expect(row.dec).to.equal(1.5);
      expect(row.ts).to.match(/Z$/);
      expect(row.ids).to.deep.equal(['q', 'q-c1', 'q-c2']);
    });

    it('accepts WITH, DESCRIBE, SHOW, PRAGMA and SUMMARIZE', async () => {
      for (const sql of ['WITH x AS (SELECT 1 AS a) SELECT a FROM x', 'DESCRIBE sessions', 'SHOW TABLES', 'PRAGMA table_info(tool_calls)', 'SUMMARIZE model_calls', '  -- note\n select 1']) {
        const r = await queryMetrics(ws, sql);
        expect(r.rows.length, sql).to.be.greaterThan(0);
      }
    });

    it('runs every query of docs/metrics.md', async () => {
      // A command too, for the run_command query.
      const run = new SyntheticRun(ws, 'cmd');
      run.start('cmd', null, 'impl').append({
        type: 'tool_call', session_id: 'cmd', seq: 1, tool: 'run_command', tool_use_id: 't', started_at: new Date().toISOString(), duration_ms: 30,
        decision: 'allow', rule: 'roles.impl.commands.allow[0]', path: '.', is_error: false, error: null, command: 'npm test', exit_code: 0,
      }).end('cmd');
      run.close();
      const doc = fs.readFileSync(path.join(packageRoot, 'docs', 'metrics.md'), 'utf8');
      const queries = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
      expect(queries).to.have.length(6);
      for (const sql of queries) {
        const r = await queryMetrics(ws, sql);
        expect(r.rows.length, sql).to.be.greaterThan(0);
      }
    });

    it('refuses statements that write, and turns a SQL error into one usage line', async () => {
      for (const sql of ['DELETE FROM sessions', 'DROP TABLE sessions', 'SELECT 1; DROP TABLE sessions', "COPY sessions TO 'x.csv'", 'ATTACH ":memory:" AS m', '']) {
        const err = await queryMetrics(ws, sql).then(() => null, (e: unknown) => e);
        expect(err, sql).to.be.instanceOf(UsageError);
      }
      const err = (await queryMetrics(ws, 'SELECT nope FROM sessions').catch((e: unknown) => e)) as UsageError;
      expect(err).to.be.instanceOf(UsageError);
      expect(err.message).to.match(/^SQL error: .*nope/);
      expect(err.message).to.not.contain('\n');
      expect(await one(ws, 'SELECT count(*) AS n FROM sessions')).to.deep.equal({ n: 3 });
    });
  });
});

describe('pricing', () => {
  it('prices known models per million tokens, including dated and prefixed ids', () => {
    expect(costOf('claude-sonnet-4-5', { input_tokens: 1_000_000, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 })).to.equal(3);
    expect(costOf('claude-sonnet-4-5-20250929', { input_tokens: 0, output_tokens: 1_000_000, cache_read_tokens: 0, cache_write_tokens: 0 })).to.equal(15);
    expect(costOf('claude-haiku-4-5', { input_tokens: 0, output_tokens: 0, cache_read_tokens: 1_000_000, cache_write_tokens: 1_000_000 })).to.be.closeTo(0.1 + 1.25, 1e-12);
    expect(priceOf('claude-opus-4-5-20251101').input).to.equal(5);
    expect(priceOf('claude-opus-4-1-20250805').input).to.equal(15);
    expect(priceOf('anthropic.claude-sonnet-4-5-20250929-v1:0').input).to.equal(3);
    expect(isKnownModel('claude-sonnet-5')).to.equal(true);
  });

  it('prices an unknown model at the fallback, the highest rate in the table', () => {
    expect(isKnownModel('gpt-9')).to.equal(false);
    expect(priceOf('gpt-9')).to.deep.equal(FALLBACK_PRICE);
    expect(priceOf('claude-opus-45')).to.deep.equal(FALLBACK_PRICE);
  });
});

