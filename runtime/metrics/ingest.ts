// Audit log → metrics rows: the one place that maps events to table rows,
// used for the file database and for the in-memory fallback alike.
//
// DuckDB reads the JSON lines itself (read_json) and the tables are filled
// with INSERT … SELECT: set-at-a-time bulk writes. Each line is parsed once
// for the table it feeds: the tool calls (nearly all lines) are read from the
// logs, the model calls and the few other lines from the small files the
// split (split.ts) copies them to. Parsing every log once per table cost more
// than the tool calls' own read and write; materializing every line with
// every field into a temp table first cost more than the parse; feeding the
// Appender value by value from JavaScript cannot reach the ingest goal of
// DESIGN.md §8; reading the logs one by one, or committing per log, cost more
// than one read and one commit per batch. docs/performance.md ("Ingest") has
// the measurements.
//
// Calls (model_call, tool_call) are appended once, from the first line not
// yet ingested; a log's sessions rows are recomputed from its
// session_started / session_ended lines and the sums over the calls tables,
// so a session's totals always equal the sums of its calls exactly.
//
// A log is believed only as far as its hash chain holds: the split checks the
// chain of every line it reads, and a log that breaks is ingested only up to
// the last line the chain vouches for, read from a copy of that part (DuckDB
// reads whole files, and a line past the break may claim any line_seq). The
// break is reported (DamagedLog) so every metrics command can say so.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { lineEndingAt, logTail, sha256Hex } from '../audit/log.js';
import { AUDIT_LOGS, CALLS_VIEWS, INGESTED_LOGS, MODEL_CALLS_VIEW, SESSIONS, TOOL_CALLS_VIEW, quoteIdent, quoteString } from './schema.js';
import { type SplitResult, splitLogs, treeRootOf } from './split.js';
import { inTransaction } from './transaction.js';
import { type ChainBreak, logIdOf } from '../audit/verify.js';
import { isUnwritable } from '../storage-error.js';
import { writerAlive } from '../audit/process-liveness.js';

export const INTERRUPTED_ERROR = 'process ended before the session was recorded as ended';

/** The error of a session left open by a log whose chain breaks: what happened after the break is not known. */
export const DAMAGED_ERROR = 'its audit log is damaged (run `choragen audit:verify`): what the session did after the break is not in the metrics';

/** A log whose hash chain breaks: where (1-based line, as audit:verify names it), why, and how many of its lines the metrics hold. */
export interface DamagedLog {
  file: string;
  line: number;
  reason: string;
  ingestedLines: number;
}

/** The fields of every event type that become columns, with the type DuckDB reads them as. */
const EVENT_FIELDS: Record<string, string> = {
  line_seq: 'BIGINT',
  ts: 'VARCHAR', // only the writer's line needs it, as text
  session_id: 'VARCHAR',
  type: 'VARCHAR',
  // run_started, notice(resume)
  pid: 'BIGINT',
  kind: 'VARCHAR',
  // session_started
  parent_id: 'VARCHAR',
  root_id: 'VARCHAR',
  role: 'VARCHAR',
  depth: 'INTEGER',
  model: 'VARCHAR',
  provider: 'VARCHAR',
  task_id: 'VARCHAR',
  chain_id: 'VARCHAR',
  started_at: 'TIMESTAMP',
  resumed_from: 'VARCHAR',
  // model_call, tool_call
  seq: 'INTEGER',
  duration_ms: 'DOUBLE',
  input_tokens: 'BIGINT',
  output_tokens: 'BIGINT',
  cache_read_tokens: 'BIGINT',
  cache_write_tokens: 'BIGINT',
  cost_usd: 'DOUBLE',
  stop_reason: 'VARCHAR',
  retries: 'INTEGER',
  tool: 'VARCHAR',
  decision: 'VARCHAR',
  rule: 'VARCHAR',
  path: 'VARCHAR',
  is_error: 'BOOLEAN',
  error: 'VARCHAR',
  // tool_call of run_command
  command: 'VARCHAR',
  exit_code: 'INTEGER',
  // session_ended
  status: 'VARCHAR',
  ended_at: 'TIMESTAMP',
  final_text: 'VARCHAR',
  files_changed: 'VARCHAR[]',
};

const SESSION_LEVEL_TYPES = `('run_started', 'session_started', 'session_ended', 'notice', 'compaction')`;
const CALL_TYPES = `('model_call', 'tool_call')`;

/** The private directories a batch's split writes to: `ingest-<pid>-<random>`. */
const SPLIT_DIR_PREFIX = 'ingest-';
const SPLIT_DIR_NAME = /^ingest-(\d+)-/;

/** The fields of the lines kept in the temp table `raw`: every type but the calls. */
const RAW_FIELDS = [
  'line_seq', 'ts', 'session_id', 'type', 'pid', 'kind', 'parent_id', 'root_id', 'role', 'depth', 'model', 'task_id',
  'chain_id', 'started_at', 'resumed_from', 'duration_ms', 'error', 'status', 'ended_at', 'final_text', 'files_changed',
  'provider',
];

/**
 * Row mappings: stored column ← expression over the raw event columns and the
 * per-log table `logs` (log_no: the number audit_logs gives the log the row
 * comes from).
 */
const MODEL_CALL_ROW: Record<string, string> = {
  session_id: 'session_id',
  seq: 'seq',
  started_at: 'started_at',
  duration_ms: 'duration_ms',
  model: 'model',
  input_tokens: 'coalesce(input_tokens, 0)',
  output_tokens: 'coalesce(output_tokens, 0)',
  cache_read_tokens: 'coalesce(cache_read_tokens, 0)',
  cache_write_tokens: 'coalesce(cache_write_tokens, 0)',
  stop_reason: 'stop_reason',
  retries: 'coalesce(retries, 0)',
  cost_usd: 'coalesce(cost_usd, 0)::DECIMAL(18,9)',
  error: 'error',
  log_no: 'log_no',
};

const TOOL_CALL_ROW: Record<string, string> = {
  session_id: 'session_id',
  seq: 'seq',
  tool: 'tool',
  started_at: 'started_at',
  duration_ms: 'duration_ms',
  decision: 'decision',
  rule: 'rule',
  path: 'path',
  is_error: 'coalesce(is_error, false)',
  error: 'error',
  command: 'command',
  exit_code: 'exit_code',
  log_no: 'log_no',
};

/** The event fields a calls row is made of: every column but the one taken from `logs`. */
const fieldsOf = (row: Record<string, string>) => Object.keys(row).filter((c) => c !== 'log_no');

/** Which file of a log a read takes: the log itself, or one of the files its split wrote. */
type LogFile = 'file' | 'model_file' | 'other_file';

/** The files of one log a batch reads: the log, and the two its split writes. */
type BatchFiles = Record<LogFile, string>;

/**
 * read_json over one file of each of the batch's logs, converting only
 * `fields` (plus line_seq and type), each line joined to its log's row of
 * `bounds` (a table or VALUES with the `which` file column, log_id,
 * from_line, to_line). A strict read is cheaper; a half-written or garbled
 * line makes it fail, and a tolerant read skips such lines.
 */
function readLogsSql(files: string[], which: LogFile, fields: string[], bounds: string, tolerant: boolean): string {
  const columns = [...new Set(['line_seq', 'type', ...fields])].map((k) => `${quoteIdent(k)}: '${EVENT_FIELDS[k]}'`).join(', ');
  return (
    `read_json([${files.map(quoteString).join(', ')}], format = 'newline_delimited', filename = true, ignore_errors = ${tolerant}, columns = {${columns}}) r ` +
    `JOIN ${bounds} ON r.filename = b.${which}`
  );
}

function insertCallsSql(files: BatchFiles[], which: LogFile, table: string, row: Record<string, string>, type: string, tolerant: boolean): string {
  const cols = Object.keys(row);
  return (
    `INSERT INTO ${quoteIdent(table)} (${cols.map(quoteIdent).join(', ')}) ` +
    `SELECT ${cols.map((c) => row[c]).join(', ')} FROM ${readLogsSql(files.map((f) => f[which]), which, fieldsOf(row), 'logs b', tolerant)} ` +
    `WHERE r.type = '${type}' AND r.line_seq BETWEEN b.from_line AND b.to_line`
  );
}

/**
 * The sessions of the batch's logs (`ids`: their log ids as SQL literals,
 * `nos`: their numbers), recomputed. A session is open when its last
 * session_started has no session_ended after it; an open session is running
 * while its log's current writer process lives and it started under that
 * writer, else interrupted.
 * `logs(log_id, log_no, tree_root, writer_line, writer_alive, damaged)` is a
 * temp table with one row per log of the batch. The calls are picked with a list
 * of constants: inside the transaction a semi join with `logs` scans the
 * just-appended (uncommitted) rows far more slowly.
 */
const sessionsRowSql = (nos: string) => `
WITH st AS (
  SELECT * FROM raw WHERE type = 'session_started'
  QUALIFY row_number() OVER (PARTITION BY log_id, session_id ORDER BY line_seq) = 1
), last_st AS (
  SELECT log_id, session_id, max(line_seq) AS line_seq FROM raw WHERE type = 'session_started' GROUP BY ALL
), en AS (
  SELECT * FROM raw WHERE type = 'session_ended'
  QUALIFY row_number() OVER (PARTITION BY log_id, session_id ORDER BY line_seq DESC) = 1
), mc AS (
  SELECT l.log_id, m.* EXCLUDE (log_no) FROM (
    SELECT log_no, session_id, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
           sum(cost_usd) AS cost_usd, count(*) AS n
    FROM ${MODEL_CALLS_VIEW.rows.name} WHERE log_no IN (${nos}) GROUP BY ALL
  ) m JOIN logs l USING (log_no)
), tc AS (
  SELECT l.log_id, t.session_id, t.n FROM (
    SELECT log_no, session_id, count(*) AS n FROM ${TOOL_CALLS_VIEW.rows.name} WHERE log_no IN (${nos}) GROUP BY ALL
  ) t JOIN logs l USING (log_no)
), cp AS (
  SELECT log_id, session_id, count(*) AS n FROM raw WHERE type = 'compaction' GROUP BY ALL
), ids AS (
  SELECT log_id, session_id FROM st UNION SELECT log_id, session_id FROM en
  UNION SELECT log_id, session_id FROM mc UNION SELECT log_id, session_id FROM tc
), s AS (
  SELECT ids.log_id, ids.session_id, st.parent_id, coalesce(st.root_id, l.tree_root) AS root_id, st.role, st.depth, st.model,
         st.task_id, st.chain_id, st.started_at, st.resumed_from, st.provider,
         en.status AS end_status, en.ended_at, en.duration_ms, en.error AS end_error, en.final_text, en.files_changed,
         (en.line_seq IS NULL OR en.line_seq < coalesce(last_st.line_seq, -1)) AS open,
         l.writer_alive AND NOT l.damaged AND coalesce(last_st.line_seq, 0) > l.writer_line AS live, l.damaged,
         mc.input_tokens, mc.output_tokens, mc.cache_read_tokens, mc.cache_write_tokens, mc.cost_usd,
         mc.n AS model_calls, tc.n AS tool_calls, cp.n AS compactions
  FROM ids JOIN logs l USING (log_id)
           LEFT JOIN st USING (log_id, session_id) LEFT JOIN last_st USING (log_id, session_id)
           LEFT JOIN en USING (log_id, session_id) LEFT JOIN mc USING (log_id, session_id)
           LEFT JOIN tc USING (log_id, session_id) LEFT JOIN cp USING (log_id, session_id)
)
SELECT session_id, parent_id, root_id, role, depth, model, task_id, chain_id,
       CASE WHEN NOT open THEN end_status WHEN live THEN 'running' ELSE 'interrupted' END,
       started_at,
       CASE WHEN open THEN NULL ELSE ended_at END,
       CASE WHEN open THEN NULL ELSE duration_ms END,
       coalesce(input_tokens, 0), coalesce(output_tokens, 0), coalesce(cache_read_tokens, 0), coalesce(cache_write_tokens, 0),
       coalesce(cost_usd, 0), coalesce(model_calls, 0), coalesce(tool_calls, 0),
       CASE WHEN NOT open THEN end_error WHEN live THEN NULL WHEN damaged THEN ${quoteString(DAMAGED_ERROR)} ELSE '${INTERRUPTED_ERROR}' END,
       CASE WHEN open THEN NULL ELSE final_text END,
       CASE WHEN open THEN NULL ELSE files_changed END,
       resumed_from, log_id, provider, coalesce(compactions, 0), NULL
FROM s`;

/**
 * Each session's resumed_by: the latest session that resumed it (null when
 * none is ingested). The two are usually in different logs, ingested at
 * different times, so this runs over the whole table after every batch
 * (sessions, not calls: thousands of rows, not millions).
 */
const LINK_RESUMED_SQL = `
UPDATE sessions SET resumed_by = r.by
FROM (
  SELECT s.session_id AS id, x.by FROM sessions s LEFT JOIN (
    SELECT resumed_from, arg_max(session_id, started_at) AS by FROM sessions WHERE resumed_from IS NOT NULL GROUP BY ALL
  ) x ON x.resumed_from = s.session_id
) r
WHERE sessions.session_id = r.id AND sessions.resumed_by IS DISTINCT FROM r.by`;

const SESSION_COLUMNS = SESSIONS.columns.map(([n]) => n);

/** What ingested_logs remembers of a log. */
export interface LogState {
  file: string;
  lines: number;
  bytes: number;
  last_hash: string;
  writer_pid: number | null;
  writer_since: string | null;
  open_sessions: number;
}

/** What is new in one log, decided before DuckDB reads it. */
export interface PlannedLog {
  file: string;
  name: string;
  /** The log's id: its root session id, the file name without .jsonl. */
  id: string;
  /** First line to ingest calls from (0 when the log is new or was replaced). */
  from: number;
  /** Where line `from` starts in the file. */
  fromBytes: number;
  /** Last complete line. */
  to: number;
  /** The log no longer begins with what was ingested: its rows are dropped and it is taken again. */
  replaced: boolean;
  completeBytes: number;
  lastHash: string;
  /** Its chain breaks: only the part it vouches for is ingested, read from `readFile`, a copy of that part. */
  damaged?: ChainBreak;
  readFile?: string;
}

export interface BatchIngest {
  /** Lines newly ingested (all types). */
  lines: number;
  /** model_call + tool_call rows added. */
  calls: number;
  states: LogState[];
  damaged: DamagedLog[];
}

/**
 * Where the log's complete lines end, the line_seq of the last one, and its
 * hash. A last line without a readable line_seq gets UNKNOWN_LINE: the chain
 * check, which it cannot pass, then finds where the log really ends.
 */
function snapshot(file: string): { completeBytes: number; lastLineSeq: number; lastHash: string } | null {
  const fd = fs.openSync(file, 'r');
  try {
    const tail = logTail(fd);
    if (!tail.lastLine) return null;
    let lastLineSeq = UNKNOWN_LINE;
    try {
      const seq = JSON.parse(tail.lastLine.toString('utf8')).line_seq;
      if (Number.isInteger(seq) && seq >= 0) lastLineSeq = seq;
    } catch {
      // garbled: see above
    }
    return { completeBytes: tail.completeBytes, lastLineSeq, lastHash: sha256Hex(tail.lastLine) };
  } finally {
    fs.closeSync(fd);
  }
}

const UNKNOWN_LINE = Number.MAX_SAFE_INTEGER;

/** Does the log still begin with what was ingested from it? */
function continues(file: string, prior: LogState): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const line = lineEndingAt(fd, prior.bytes);
    return line !== null && sha256Hex(line) === prior.last_hash;
  } finally {
    fs.closeSync(fd);
  }
}

/** What to ingest from a log given what was ingested before (`prior`); null when nothing is new. */
export function planLog(file: string, prior: LogState | null): PlannedLog | null {
  // No whole line left in a log ingested before (cut to nothing): its rows are dropped, and the chain check names it.
  const snap = snapshot(file) ?? (prior ? { completeBytes: 0, lastLineSeq: UNKNOWN_LINE, lastHash: '' } : null);
  if (!snap) return null;
  const replaced = prior !== null && (snap.completeBytes < prior.bytes || !continues(file, prior));
  if (prior && !replaced && snap.completeBytes === prior.bytes) return null;
  return {
    file,
    name: path.basename(file),
    id: path.basename(file, '.jsonl'),
    from: replaced ? 0 : (prior?.lines ?? 0),
    fromBytes: replaced ? 0 : (prior?.bytes ?? 0),
    to: snap.lastLineSeq,
    replaced,
    completeBytes: snap.completeBytes,
    lastHash: snap.lastHash,
  };
}

/** The logs' ids as a list of SQL literals, for `log_id IN (…)`. */
const idsSql = (logs: PlannedLog[]) => logs.map((l) => quoteString(l.id)).join(', ');

const valuesSql = (rows: string[][]) => `VALUES ${rows.map((r) => `(${r.join(', ')})`).join(', ')}`;

/**
 * Reads the planned logs' lines other than calls into the temp table `raw`:
 * from each log's `from` on, and the session-level lines of the whole log
 * (few), which its sessions are recomputed from.
 */
async function loadRaw(conn: DuckDBConnection, logs: PlannedLog[], files: BatchFiles[], tolerant: boolean): Promise<void> {
  const rows = logs.map((l, i) => [quoteString(files[i]!.other_file), quoteString(l.id), String(l.from), String(l.to)]);
  const bounds = `(${valuesSql(rows)}) AS b(other_file, log_id, from_line, to_line)`;
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE raw AS
     SELECT r.* EXCLUDE (filename), b.log_id, b.from_line
     FROM ${readLogsSql(files.map((f) => f.other_file), 'other_file', RAW_FIELDS, bounds, tolerant)}
     WHERE r.line_seq <= b.to_line AND coalesce(r.type, '') NOT IN ${CALL_TYPES}
       AND (r.line_seq >= b.from_line OR r.type IN ${SESSION_LEVEL_TYPES})`,
  );
}

type Writers = Map<string, { pid: number; since: string; line: number }>;

/** The process that writes each log now: its last run_started or resume notice. */
async function currentWriters(conn: DuckDBConnection): Promise<Writers> {
  const r = await conn.runAndReadAll(
    `SELECT log_id, arg_max(pid, line_seq), arg_max(ts, line_seq), max(line_seq) FROM raw
     WHERE pid IS NOT NULL AND (type = 'run_started' OR (type = 'notice' AND kind = 'resume'))
     GROUP BY log_id`,
  );
  return new Map(r.getRows().map((row) => [String(row[0]), { pid: Number(row[1]), since: String(row[2]), line: Number(row[3]) }]));
}

/**
 * Each log's row of audit_logs: the number its calls rows carry (a known
 * log keeps its own, a new one gets the next free number) and the tree its
 * sessions belong to. Returns the numbers, in the order of `logs`.
 */
async function numberLogs(conn: DuckDBConnection, logs: PlannedLog[], roots: string[]): Promise<number[]> {
  const ids = idsSql(logs);
  const known = await conn.runAndReadAll(`SELECT log_id, log_no FROM ${AUDIT_LOGS.name} WHERE log_id IN (${ids})`);
  const numbers = new Map(known.getRows().map(([id, no]) => [String(id), Number(no)]));
  const max = await conn.runAndReadAll(`SELECT coalesce(max(log_no), 0) FROM ${AUDIT_LOGS.name}`);
  let next = Number(max.getRows()[0]?.[0] ?? 0) + 1;
  const nos = logs.map((l) => numbers.get(l.id) ?? next++);
  await conn.run(`DELETE FROM ${AUDIT_LOGS.name} WHERE log_id IN (${ids})`);
  const rows = logs.map((l, i) => [String(nos[i]), quoteString(l.id), quoteString(roots[i]!)]);
  await conn.run(`INSERT INTO ${AUDIT_LOGS.name} (log_no, log_id, root_id) ${valuesSql(rows)}`);
  return nos;
}

/**
 * The temp table `logs`, one row per log of the batch: its number, its
 * files, the lines to ingest, the tree its sessions belong to, and its
 * current writer (set once `raw` is read: see setWriters). Returns the
 * logs' numbers.
 */
async function createLogsTable(conn: DuckDBConnection, logs: PlannedLog[], files: BatchFiles[]): Promise<number[]> {
  const roots = logs.map((l) => treeRootOf(l.file, l.completeBytes) ?? l.id);
  const nos = await numberLogs(conn, logs, roots);
  const rows = logs.map((l, i) =>
    [String(nos[i])].concat([l.id, roots[i]!, files[i]!.file, files[i]!.model_file].map(quoteString), [String(l.from), String(l.to), String(!!l.damaged)]),
  );
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE logs AS SELECT *, 0 AS writer_line, false AS writer_alive
     FROM (${valuesSql(rows)}) AS l(log_no, log_id, tree_root, file, model_file, from_line, to_line, damaged)`,
  );
  return nos;
}

/** Records each log's current writer in `logs`: the line that names it, and whether it still runs. */
async function setWriters(conn: DuckDBConnection, writers: Writers): Promise<void> {
  if (writers.size === 0) return;
  const rows = [...writers].map(([id, w]) => [quoteString(id), String(w.line), String(writerAlive(w.pid, w.since))]);
  await conn.run(
    `UPDATE logs SET writer_line = w.line, writer_alive = w.alive
     FROM (${valuesSql(rows)}) AS w(log_id, line, alive) WHERE logs.log_id = w.log_id`,
  );
}

async function countsByLog(conn: DuckDBConnection, sql: string): Promise<Map<string, number>> {
  const r = await conn.runAndReadAll(sql);
  return new Map(r.getRows().map((row) => [String(row[0]), Number(row[1])]));
}

/** Thrown inside a batch's transaction when the split found logs whose chain breaks: the batch is rolled back and written again. */
class ChainBroken extends Error {
  constructor(readonly breaks: Map<number, ChainBreak>) {
    super('audit log hash chain broken');
  }
}

/** The split could not write its files (a full disk): the batch is written again reading the logs whole. */
class SplitUnwritable extends Error {}

/**
 * Ingests the new lines of a batch of logs. Their rows and ingest state are
 * written in one transaction: an interrupted ingest leaves nothing half done,
 * so no line is ever counted twice. The reads are strict first (cheaper); a
 * half-written or garbled line makes them fail, and the batch is written again
 * with reads that skip such lines. A log whose chain breaks is planned again
 * for the part the chain vouches for, and the batch written again.
 *
 * The split's files go to a private directory under `splitRoot` (beside the
 * database: the same disk as the logs, not a small /tmp), removed afterwards;
 * when nothing can be written there (a read-only or full disk), under the
 * system's temp directory; failing that, DuckDB reads every table from the
 * logs themselves (slower, same rows).
 */
export async function ingestBatch(conn: DuckDBConnection, logs: PlannedLog[], splitRoot: string): Promise<BatchIngest> {
  if (logs.length === 0) return { lines: 0, calls: 0, states: [], damaged: [] };
  let dir = makeSplitDir(splitRoot);
  try {
    let planned = logs;
    for (;;) {
      const files: BatchFiles[] = planned.map((l, i) => {
        const file = l.readFile ?? l.file;
        return dir
          ? { file, model_file: path.join(dir, `${i}.model.jsonl`), other_file: path.join(dir, `${i}.other.jsonl`) }
          : { file, model_file: file, other_file: file };
      });
      let split: SplitResult[] | null = null;
      const splitOnce = () => {
        try {
          split ??= splitLogs(planned.map((l, i) => ({
            file: l.file, fromByte: l.fromBytes, toByte: l.completeBytes, logId: logIdOf(l.file),
            modelFile: dir ? files[i]!.model_file : null, otherFile: dir ? files[i]!.other_file : null,
          })));
        } catch (err) {
          if (dir && isUnwritable(err)) throw new SplitUnwritable();
          throw err;
        }
        const breaks = new Map<number, ChainBreak>();
        split.forEach((r, i) => {
          if (r.broken && !planned[i]!.damaged) breaks.set(i, r.broken);
        });
        if (breaks.size) throw new ChainBroken(breaks);
      };
      const write = (tolerant: boolean) => writeBatch(conn, planned, files, splitOnce, tolerant);
      try {
        const retried = (err: unknown) => err instanceof ChainBroken || err instanceof SplitUnwritable;
        const done = await write(false).catch((err) => (retried(err) ? Promise.reject(err) : write(true)));
        return { ...done, damaged: planned.filter((l) => l.damaged).map(damagedLog) };
      } catch (err) {
        if (err instanceof SplitUnwritable) {
          fs.rmSync(dir!, { recursive: true, force: true });
          dir = null;
          planned = logs; // from the start: copies of damaged logs' trusted parts were in that directory
          continue;
        }
        if (!(err instanceof ChainBroken)) throw err;
        planned = planned.map((l, i) => {
          const broken = err.breaks.get(i);
          return broken ? trustedPart(l, broken, dir, i) : l;
        });
      }
    }
  } finally {
    await conn.run('DROP TABLE IF EXISTS raw; DROP TABLE IF EXISTS logs');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A private directory for a batch's split files, or null when none can be made (read-only or full disk). */
function makeSplitDir(splitRoot: string): string | null {
  for (const root of [splitRoot, os.tmpdir()]) {
    try {
      return fs.mkdtempSync(path.join(root, `${SPLIT_DIR_PREFIX}${process.pid}-`));
    } catch {
      // try the next place
    }
  }
  return null;
}

/**
 * The plan for the part of a log its chain vouches for (`broken.trusted`
 * lines), read from a copy of those bytes. A break inside what was ingested
 * before drops the log's rows and takes that part again. Without a directory
 * to copy into, nothing of the log is ingested.
 */
function trustedPart(l: PlannedLog, broken: ChainBreak, dir: string | null, i: number): PlannedLog {
  let trusted = broken.trusted;
  let readFile: string | undefined;
  if (trusted > 0 && dir) {
    readFile = path.join(dir, `${i}.trusted.jsonl`);
    try {
      copyPrefix(l.file, readFile, broken.trustedBytes);
    } catch {
      readFile = undefined;
    }
  }
  if (!readFile) trusted = 0;
  const replaced = l.replaced || trusted < l.from;
  return {
    ...l,
    from: replaced ? 0 : l.from,
    fromBytes: replaced ? 0 : l.fromBytes,
    to: trusted - 1,
    replaced,
    completeBytes: trusted > 0 ? broken.trustedBytes : 0,
    lastHash: trusted > 0 ? broken.trustedHash : '',
    damaged: { ...broken, trusted },
    readFile: readFile ?? l.file,
  };
}

function copyPrefix(from: string, to: string, bytes: number): void {
  const src = fs.openSync(from, 'r');
  try {
    const dst = fs.openSync(to, 'w', 0o600);
    try {
      const buf = Buffer.allocUnsafe(Math.min(bytes, 8 << 20));
      for (let at = 0; at < bytes; ) {
        const n = fs.readSync(src, buf, 0, Math.min(buf.length, bytes - at), at);
        if (n === 0) throw new Error(`${from} shrank while it was copied`);
        for (let off = 0; off < n; ) off += fs.writeSync(dst, buf, off, n - off);
        at += n;
      }
    } finally {
      fs.closeSync(dst);
    }
  } finally {
    fs.closeSync(src);
  }
}

function damagedLog(l: PlannedLog): DamagedLog {
  return { file: l.file, line: l.damaged!.line, reason: l.damaged!.reason, ingestedLines: l.damaged!.trusted };
}

/**
 * One transaction: the batch's calls, its logs' sessions recomputed, their
 * ingest state. DuckDB reads the tool calls (nearly all lines) from the logs
 * while this thread splits the other lines out for the reads after it, so the
 * split's time hides behind DuckDB's.
 */
async function writeBatch(
  conn: DuckDBConnection,
  logs: PlannedLog[],
  files: BatchFiles[],
  split: () => void,
  tolerant: boolean,
): Promise<Omit<BatchIngest, 'damaged'>> {
  const ids = idsSql(logs);
  const insertCalls = (table: string, row: Record<string, string>, type: string, which: LogFile) =>
    conn.run(insertCallsSql(files, which, table, row, type, tolerant)).then((r) => Number(r.rowsChanged));
  return inTransaction(conn, async () => {
    for (const l of logs) if (l.replaced) await purgeLog(conn, l.id);
    const nos = (await createLogsTable(conn, logs, files)).join(', ');
    const toolCalls = insertCalls(TOOL_CALLS_VIEW.rows.name, TOOL_CALL_ROW, 'tool_call', 'file');
    try {
      split();
    } catch (err) {
      await toolCalls.catch(() => undefined); // the statement must end before the rollback
      throw err;
    }
    let calls = await toolCalls;
    await loadRaw(conn, logs, files, tolerant);
    const writers = await currentWriters(conn);
    await setWriters(conn, writers);
    calls += await insertCalls(MODEL_CALLS_VIEW.rows.name, MODEL_CALL_ROW, 'model_call', 'model_file');
    await conn.run(`DELETE FROM sessions WHERE log_id IN (${ids})`);
    await conn.run(`INSERT INTO sessions (${SESSION_COLUMNS.map(quoteIdent).join(', ')}) ${sessionsRowSql(nos)}`);
    await conn.run(LINK_RESUMED_SQL);
    const otherLines = await conn.runAndReadAll(`SELECT count(*) FROM raw WHERE line_seq >= from_line`);
    const open = await countsByLog(
      conn,
      `SELECT log_id, count(*) FROM sessions WHERE log_id IN (${ids}) AND status = 'running' GROUP BY log_id`,
    );
    const states: LogState[] = logs.map((l) => ({
      file: l.name,
      lines: l.to + 1,
      bytes: l.completeBytes,
      last_hash: l.lastHash,
      writer_pid: writers.get(l.id)?.pid ?? null,
      writer_since: writers.get(l.id)?.since ?? null,
      open_sessions: open.get(l.id) ?? 0,
    }));
    await writeLogStates(conn, states);
    return { lines: Number(otherLines.getRows()[0]?.[0] ?? 0) + calls, calls, states };
  });
}

/**
 * Removes the split directories under `root` whose ingest process is gone
 * (one killed mid-ingest leaves its directory; any other failure removes it).
 */
export function removeStaleSplitDirs(root: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = SPLIT_DIR_NAME.exec(name)?.[1];
    if (pid === undefined) continue;
    const dir = path.join(root, name);
    const stat = fs.statSync(dir, { throwIfNoEntry: false });
    if (!stat?.isDirectory() || writerAlive(Number(pid), stat.mtime.toISOString())) continue;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A log that did not change but shows running sessions whose writer has died since. */
function needsRefresh(state: LogState): boolean {
  if (state.open_sessions === 0) return false;
  return !(state.writer_pid !== null && state.writer_since !== null && writerAlive(state.writer_pid, state.writer_since));
}

/** Sessions still shown as running in a log that did not change: their writer may have died since. */
export async function refreshOpenSessions(conn: DuckDBConnection, state: LogState): Promise<void> {
  if (!needsRefresh(state)) return;
  const log = path.basename(state.file, '.jsonl');
  await inTransaction(conn, async () => {
    await conn.run(`UPDATE sessions SET status = 'interrupted', error = $error WHERE log_id = $log AND status = 'running'`, {
      log,
      error: INTERRUPTED_ERROR,
    });
    await writeLogStates(conn, [{ ...state, open_sessions: 0 }]);
  });
}

/** Drops every row that came from one log (its audit_logs row and number stay). */
export async function purgeLog(conn: DuckDBConnection, logId: string): Promise<void> {
  for (const { rows } of CALLS_VIEWS) {
    await conn.run(`DELETE FROM ${quoteIdent(rows.name)} WHERE log_no IN (SELECT log_no FROM ${AUDIT_LOGS.name} WHERE log_id = $log)`, { log: logId });
  }
  await conn.run(`DELETE FROM ${quoteIdent(SESSIONS.name)} WHERE log_id = $log`, { log: logId });
}

/** Is there anything to write: a log with new (or changed) lines, or sessions whose writer died? Reads only. */
export async function pendingWork(conn: DuckDBConnection, logFiles: string[]): Promise<boolean> {
  const states = await readLogStates(conn);
  for (const file of logFiles) {
    const prior = states.get(path.basename(file)) ?? null;
    if (planLog(file, prior) || (prior && needsRefresh(prior))) return true;
  }
  return false;
}

export async function readLogStates(conn: DuckDBConnection): Promise<Map<string, LogState>> {
  const r = await conn.runAndReadAll(
    `SELECT file, lines, bytes, last_hash, writer_pid, strftime(writer_since, '%Y-%m-%dT%H:%M:%S.%gZ') AS writer_since, open_sessions FROM ${INGESTED_LOGS.name}`,
  );
  const out = new Map<string, LogState>();
  for (const row of r.getRowObjectsJS()) {
    out.set(String(row.file), {
      file: String(row.file),
      lines: Number(row.lines),
      bytes: Number(row.bytes),
      last_hash: String(row.last_hash),
      writer_pid: row.writer_pid === null ? null : Number(row.writer_pid),
      writer_since: row.writer_since === null ? null : String(row.writer_since),
      open_sessions: Number(row.open_sessions ?? 0),
    });
  }
  return out;
}

/** Replaces the ingest state of the given logs, written with the Appender in one batch. */
export async function writeLogStates(conn: DuckDBConnection, states: LogState[]): Promise<void> {
  if (states.length === 0) return;
  const { DuckDBTimestampValue } = await import('@duckdb/node-api');
  await conn.run(`DELETE FROM ${INGESTED_LOGS.name} WHERE file IN (${states.map((s) => quoteString(s.file)).join(', ')})`);
  const cols = await tableColumns(conn, INGESTED_LOGS.name);
  const now = new DuckDBTimestampValue(BigInt(Date.now()) * 1000n);
  const appender = await conn.createAppender(INGESTED_LOGS.name);
  try {
    for (const s of states) {
      for (const col of cols) {
        switch (col) {
          case 'file': appender.appendVarchar(s.file); break;
          case 'log_id': appender.appendVarchar(path.basename(s.file, '.jsonl')); break;
          case 'lines': appender.appendBigInt(BigInt(s.lines)); break;
          case 'bytes': appender.appendBigInt(BigInt(s.bytes)); break;
          case 'last_hash': appender.appendVarchar(s.last_hash); break;
          case 'writer_pid': if (s.writer_pid === null) appender.appendNull(); else appender.appendBigInt(BigInt(s.writer_pid)); break;
          case 'writer_since':
            if (s.writer_since === null) appender.appendNull();
            else appender.appendTimestamp(new DuckDBTimestampValue(BigInt(Date.parse(s.writer_since)) * 1000n));
            break;
          case 'open_sessions': appender.appendInteger(s.open_sessions); break;
          case 'ingested_at': appender.appendTimestamp(now); break;
          default: appender.appendNull(); // a column a newer version added
        }
      }
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** A table's columns in their stored order (what the Appender fills). */
export async function tableColumns(conn: DuckDBConnection, table: string): Promise<string[]> {
  const r = await conn.runAndReadAll(
    `SELECT column_name FROM duckdb_columns() WHERE table_name = $t AND schema_name = 'main' AND database_name = current_database() ORDER BY column_index`,
    { t: table },
  );
  return r.getRows().map((row) => String(row[0]));
}

