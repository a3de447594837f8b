// Damaged audit logs are not silently believed (issue 16 item 5): ingest
// checks each log's hash chain as it reads it, takes a log only as far as the
// chain vouches for it, and every metrics command names the file and line.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { auditLogPath } from '../../../runtime/audit/log.js';
import { verifyAuditFile } from '../../../runtime/audit/verify.js';
import { DAMAGED_ERROR } from '../../../runtime/metrics/ingest.js';
import { ingestWorkspace, queryMetrics } from '../../../runtime/metrics/store.js';
import { SyntheticRun, appendChained, typicalRun } from '../../support/synthetic-audit.js';
import { makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

const rowsOf = async (ws: string, sql: string) => (await queryMetrics(ws, sql)).rows;
const sessionIds = async (ws: string) => (await rowsOf(ws, 'SELECT session_id FROM sessions ORDER BY session_id')).map((r) => r.session_id);

describe('damaged audit logs (issue 16)', () => {
  let ws: string;
  let file: string;
  let lines: string[];
  beforeEach(() => {
    ws = makeWorkspace();
    typicalRun(ws, 'good', 1).close();
    typicalRun(ws, 'bad', 2).close();
    file = auditLogPath(ws, 'bad');
    lines = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
  });
  afterEach(() => removeWorkspace(ws));
  const rewrite = () => fs.writeFileSync(file, `${lines.join('\n')}\n`);
  /** The 0-based index of the first line holding `text`. */
  const lineWith = (text: string) => lines.findIndex((l) => l.includes(text));

  it('a flipped byte does not invent a session: the log is taken up to the break, and the break is named', async () => {
    const i = lineWith('"toolu_bad-c1_1"');
    expect(i).to.be.greaterThan(2);
    lines[i] = lines[i]!.replace('"session_id":"bad-c1"', '"session_id":"bad-c9"');
    rewrite();
    const broken = verifyAuditFile(file);
    expect(broken).to.deep.include({ ok: false, line: i + 1 });
    const notes: string[] = [];
    const r = await ingestWorkspace(ws, { note: (m) => notes.push(m) });
    expect(r.damaged).to.have.length(1);
    // Line i+2 no longer vouches for the changed line: the lines before it are what the chain vouches for.
    expect(r.damaged[0]).to.deep.include({ file, line: i + 1, ingestedLines: i });
    expect(notes).to.deep.equal([
      `audit log .choragen/audit/bad.jsonl is damaged at line ${i + 1} (${(broken as { reason: string }).reason}): the metrics hold only its first ${i} lines; run \`choragen audit:verify\``,
    ]);
    const ids = await sessionIds(ws);
    expect(ids).to.not.include('bad-c9');
    expect(ids).to.include.members(['good', 'good-c1', 'good-c2', 'bad']);
    // Nothing after the break: the lines before it only.
    const calls = await rowsOf(ws, `SELECT count(*) AS n FROM tool_calls WHERE log_id = 'bad'`);
    const before = lines.slice(0, i).filter((l) => l.includes('"type":"tool_call"')).length;
    expect(calls).to.deep.equal([{ n: before }]);
    // A session the break left open is not called interrupted by a process that ended: the log is damaged.
    const open = await rowsOf(ws, `SELECT status, error FROM sessions WHERE session_id = 'bad'`);
    expect(open).to.deep.equal([{ status: 'interrupted', error: DAMAGED_ERROR }]);
    // Every later ingest says so again, and adds nothing.
    const again = await ingestWorkspace(ws);
    expect(again.damaged.map((d) => d.line)).to.deep.equal([i + 1]);
    expect(again.lines).to.equal(0);
  });

  it('a garbled line does not vanish without a word, nor does what follows it count', async () => {
    const i = lineWith('"type":"model_call"');
    lines[i] = lines[i]!.slice(0, 50);
    rewrite();
    const r = await ingestWorkspace(ws);
    expect(r.damaged.map((d) => [d.line, d.reason])).to.deep.equal([[i + 1, 'not a valid audit line (garbled JSON or missing line_seq/ts/session_id/type/prev)']]);
    expect((await rowsOf(ws, `SELECT count(*) AS n FROM model_calls WHERE log_id = 'bad'`))[0]!.n).to.equal(0);
  });

  it('a changed byte in the last event of a closed log is caught: the log_closed line vouches for it', async () => {
    expect(JSON.parse(lines.at(-1)!)).to.include({ type: 'log_closed' });
    const i = lines.length - 2;
    expect(JSON.parse(lines[i]!)).to.include({ type: 'session_ended', session_id: 'bad' });
    lines[i] = lines[i]!.replace('"status":"completed"', '"status":"cancelled"');
    rewrite();
    const r = await ingestWorkspace(ws);
    // Nothing after the seal can tell whether the event or the seal's prev was changed: the seal's line is named.
    expect(r.damaged.map((d) => [d.line, d.reason, d.ingestedLines])).to.deep.equal([[i + 2, `prev does not match the SHA-256 of line ${i + 1}`, i]]);
    expect(await rowsOf(ws, `SELECT status FROM sessions WHERE session_id = 'bad'`)).to.deep.equal([{ status: 'interrupted' }]);
  });

  it('a garbled last line is reported too (before, the whole log was skipped without a word)', async () => {
    lines[lines.length - 1] = lines.at(-1)!.replace('"session_id":', '"session_id" ');
    rewrite();
    const r = await ingestWorkspace(ws);
    expect(r.damaged.map((d) => d.line)).to.deep.equal([lines.length]);
    expect(await sessionIds(ws)).to.include('bad-c1');
  });

  it('a line added after a break, whatever line_seq it claims, is never read', async () => {
    const i = lineWith('"type":"session_ended"');
    lines[i] = lines[i]!.replace('"status":"completed"', '"status":"failed"');
    rewrite();
    appendChained(file, [`{"line_seq":2,"ts":"t","session_id":"ghost","type":"session_started","root_id":"bad","role":"impl","depth":1}`]);
    const r = await ingestWorkspace(ws);
    expect(r.damaged).to.have.length(1);
    expect(await sessionIds(ws)).to.not.include('ghost');
  });

  it('a log changed after it was ingested is taken again only up to its break', async () => {
    await ingestWorkspace(ws);
    expect((await rowsOf(ws, `SELECT count(*) AS n FROM tool_calls WHERE log_id = 'bad'`))[0]!.n).to.be.greaterThan(0);
    // A deleted line: everything after it moves, so the log no longer continues what was ingested.
    lines.splice(2, 1);
    rewrite();
    const r = await ingestWorkspace(ws);
    expect(r.damaged.map((d) => [d.line, d.ingestedLines])).to.deep.equal([[3, 1]]);
    expect((await rowsOf(ws, `SELECT count(*) AS n FROM tool_calls WHERE log_id = 'bad'`))[0]!.n).to.equal(0);
    expect(await sessionIds(ws)).to.not.include('bad');
  });

  it('a copy of a log under another name does not count its run twice, and audit:verify names it', async () => {
    const before = await rowsOf(ws, 'SELECT count(*) AS n, sum(input_tokens) AS t FROM sessions');
    fs.copyFileSync(file, path.join(path.dirname(file), 'bad-copy.jsonl'));
    const r = await ingestWorkspace(ws);
    expect(r.damaged.map((d) => [path.basename(d.file), d.line, d.reason, d.ingestedLines])).to.deep.equal([
      ['bad-copy.jsonl', 1, 'it records run bad but is named bad-copy.jsonl: a copied or renamed log, not counted twice', 0],
    ]);
    expect(await rowsOf(ws, 'SELECT count(*) AS n, sum(input_tokens) AS t FROM sessions')).to.deep.equal(before);
    expect(verifyAuditFile(path.join(path.dirname(file), 'bad-copy.jsonl'))).to.deep.include({ ok: false, line: 1 });
    expect(verifyAuditFile(file)).to.deep.include({ ok: true });
  });

  describe('a log cut short after the fact', () => {
    /** Above Linux's pid_max (4194304): never a live process. */
    const DEAD_PID = 4_194_400;
    const notesOf = async (sql: string) => {
      const notes: string[] = [];
      const rows = (await queryMetrics(ws, sql, { note: (m) => notes.push(m) })).rows;
      return { rows, notes };
    };

    it('part way through its last line, its writer gone: named on every command, with what the metrics hold', async () => {
      const run = new SyntheticRun(ws, 'cut', { seed: 3, pid: DEAD_PID });
      run.start('cut').modelCall('cut').toolCall('cut').modelCall('cut').end('cut');
      run.close();
      const cut = auditLogPath(ws, 'cut');
      const n = fs.readFileSync(cut, 'utf8').split('\n').length - 1;
      fs.truncateSync(cut, fs.statSync(cut).size - 20);
      expect(verifyAuditFile(cut)).to.deep.equal({ ok: false, line: n, reason: 'truncated final line' });
      const note = `audit log .choragen/audit/cut.jsonl is damaged at line ${n} (truncated final line): the metrics hold only its first ${n - 1} lines; run \`choragen audit:verify\``;
      for (let i = 0; i < 2; i++) {
        const r = await notesOf(`SELECT status FROM sessions WHERE session_id = 'cut'`);
        expect(r.notes).to.deep.equal([note]);
        expect(r.rows).to.deep.equal([{ status: 'completed' }]);
      }
    });

    it('while its writer still runs, a part-written last line is a line being written, not damage', async () => {
      fs.appendFileSync(file, '{"line_seq":99,"ts":"');
      const r = await notesOf('SELECT count(*) AS n FROM sessions');
      expect(r.notes).to.deep.equal([]);
    });

    it('emptied after it was ingested: its rows are dropped, and every command says so', async () => {
      expect(await sessionIds(ws)).to.include('bad');
      fs.truncateSync(file, 0);
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(file, old, old);
      for (let i = 0; i < 2; i++) {
        const r = await notesOf('SELECT session_id FROM sessions ORDER BY session_id');
        expect(r.notes).to.deep.equal([
          'audit log .choragen/audit/bad.jsonl is damaged at line 1 (empty audit log (no run_started line)): the metrics hold none of it; run `choragen audit:verify`',
        ]);
        expect(r.rows.map((row) => row.session_id)).to.not.include('bad');
      }
    });
  });

  it('every metrics command names the damaged file and line on stderr, every time', async function () {
    this.timeout(60_000);
    const i = lineWith('"toolu_bad-c2_1"');
    lines[i] = lines[i]!.replace('"decision":"deny"', '"decision":"allow"');
    rewrite();
    const out = path.join(ws, 'export');
    const commands = [
      ['metrics:summary'], ['metrics:query', 'SELECT count(*) FROM sessions'], ['agent:list'], ['agent:show', 'good'],
      ['metrics:export', '--parquet', out], ['metrics:summary', '--json'],
    ];
    for (const args of commands) {
      const r = await runCli([...args, '-w', ws]);
      expect(r.code, `${args[0]}: ${r.stderr}`).to.equal(0);
      expect(r.stderr, args[0]).to.match(new RegExp(`^choragen: audit log \\.choragen/audit/bad\\.jsonl is damaged at line ${i + 1} \\(`, 'm'));
    }
  });
});
