// Audit log → metrics rows: the one place that maps events to table rows,
// used for the file database and for the in-memory fallback alike.
//
// DuckDB reads the JSON lines itself (read_json into a temp table), and the
// tables are filled with INSERT … SELECT: set-at-a-time bulk writes. Feeding
// the Appender value by value from JavaScript measured ~20 µs per event,
// far from the 500,000 events/s target.
//
// Per log: calls (model_call, tool_call) are appended once, from the first
// line not yet ingested; the log's sessions rows are recomputed from its
// session_started / session_ended lines and the sums over the calls tables,
// so a session's totals always equal the sums of its calls exactly.
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { lineEndingAt, logTail, sha256Hex } from './audit-log.js';
import { INGESTED_LOGS, MODEL_CALLS, SESSIONS, TOOL_CALLS, quoteIdent, quoteString } from './metrics-schema.js';
import { writerAlive } from './process-liveness.js';

export const INTERRUPTED_ERROR = 'process ended before the session was recorded as ended';

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
  tool_use_id: 'VARCHAR',
  decision: 'VARCHAR',
  rule: 'VARCHAR',
  path: 'VARCHAR',
  is_error: 'BOOLEAN',
  error: 'VARCHAR',
  // session_ended
  status: 'VARCHAR',
  ended_at: 'TIMESTAMP',
  final_text: 'VARCHAR',
  files_changed: 'VARCHAR[]',
};

const SESSION_LEVEL_TYPES = `('run_started', 'session_started', 'session_ended', 'notice')`;

function readJsonSql(file: string): string {
  const columns = Object.entries(EVENT_FIELDS)
    .map(([k, t]) => `${quoteIdent(k)}: '${t}'`)
    .join(', ');
  // ignore_errors: a line being written right now, or garbled, is skipped here;
  // audit:verify is the tool that reports it.
  return `read_json(${quoteString(file)}, format = 'newline_delimited', ignore_errors = true, maximum_object_size = 67108864, columns = {${columns}})`;
}

/** Row mappings: table column ← expression over the raw event columns. */
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
  root_id: '$root',
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
  tool_use_id: 'tool_use_id',
  root_id: '$root',
};

function insertCallsSql(table: string, row: Record<string, string>, type: string): string {
  const cols = Object.keys(row);
  return (
    `INSERT INTO ${quoteIdent(table)} (${cols.map(quoteIdent).join(', ')}) ` +
    `SELECT ${cols.map((c) => row[c]).join(', ')} FROM raw WHERE type = '${type}' AND line_seq >= $from`
  );
}

/**
 * The log's sessions, recomputed. A session is open when its last
 * session_started has no session_ended after it; an open session is running
 * while the log's current writer process lives and it started under that
 * writer, else interrupted.
 */
const SESSIONS_ROW_SQL = `
WITH st AS (
  SELECT * FROM raw WHERE type = 'session_started'
  QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY line_seq) = 1
), last_st AS (
  SELECT session_id, max(line_seq) AS line_seq FROM raw WHERE type = 'session_started' GROUP BY session_id
), en AS (
  SELECT * FROM raw WHERE type = 'session_ended'
  QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY line_seq DESC) = 1
), mc AS (
  SELECT session_id, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
         sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
         sum(cost_usd) AS cost_usd, count(*) AS n
  FROM model_calls WHERE root_id = $root GROUP BY session_id
), tc AS (
  SELECT session_id, count(*) AS n FROM tool_calls WHERE root_id = $root GROUP BY session_id
), ids AS (
  SELECT session_id FROM st UNION SELECT session_id FROM en
  UNION SELECT session_id FROM mc UNION SELECT session_id FROM tc
), s AS (
  SELECT ids.session_id, st.parent_id, coalesce(st.root_id, $root) AS root_id, st.role, st.depth, st.model,
         st.task_id, st.chain_id, st.started_at, st.resumed_from,
         en.status AS end_status, en.ended_at, en.duration_ms, en.error AS end_error, en.final_text, en.files_changed,
         (en.line_seq IS NULL OR en.line_seq < coalesce(last_st.line_seq, -1)) AS open,
         coalesce(last_st.line_seq, 0) > $writer_line AS under_writer,
         mc.input_tokens, mc.output_tokens, mc.cache_read_tokens, mc.cache_write_tokens, mc.cost_usd,
         mc.n AS model_calls, tc.n AS tool_calls
  FROM ids LEFT JOIN st USING (session_id) LEFT JOIN last_st USING (session_id) LEFT JOIN en USING (session_id)
           LEFT JOIN mc USING (session_id) LEFT JOIN tc USING (session_id)
)
SELECT session_id, parent_id, root_id, role, depth, model, task_id, chain_id,
       CASE WHEN NOT open THEN end_status WHEN $writer_alive AND under_writer THEN 'running' ELSE 'interrupted' END,
       started_at,
       CASE WHEN open THEN NULL ELSE ended_at END,
       CASE WHEN open THEN NULL ELSE duration_ms END,
       coalesce(input_tokens, 0), coalesce(output_tokens, 0), coalesce(cache_read_tokens, 0), coalesce(cache_write_tokens, 0),
       coalesce(cost_usd, 0), coalesce(model_calls, 0), coalesce(tool_calls, 0),
       CASE WHEN NOT open THEN end_error WHEN $writer_alive AND under_writer THEN NULL ELSE '${INTERRUPTED_ERROR}' END,
       CASE WHEN open THEN NULL ELSE final_text END,
       CASE WHEN open THEN NULL ELSE files_changed END,
       resumed_from
FROM s`;

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

export interface LogIngest {
  /** Lines of the log newly ingested (all types). */
  lines: number;
  /** model_call + tool_call rows added. */
  calls: number;
  state: LogState;
}

/** Where the log's complete lines end, and the hash of the last one. */
function snapshot(file: string): { completeBytes: number; lastLineSeq: number; lastHash: string } | null {
  const fd = fs.openSync(file, 'r');
  try {
    const tail = logTail(fd);
    if (!tail.lastLine) return null;
    let lastLineSeq: number;
    try {
      lastLineSeq = Number(JSON.parse(tail.lastLine.toString('utf8')).line_seq);
    } catch {
      return null; // a garbled last line: nothing is ingested until the log is fixed or grows past it
    }
    if (!Number.isInteger(lastLineSeq)) return null;
    return { completeBytes: tail.completeBytes, lastLineSeq, lastHash: sha256Hex(tail.lastLine) };
  } finally {
    fs.closeSync(fd);
  }
}

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

async function recomputeSessions(conn: DuckDBConnection, root: string, writerLine: number, alive: boolean): Promise<number> {
  const params = { root, writer_line: writerLine, writer_alive: alive };
  await conn.run(`DELETE FROM sessions WHERE root_id = $root OR session_id IN (SELECT session_id FROM raw)`, { root });
  await conn.run(`INSERT INTO sessions (${SESSION_COLUMNS.map(quoteIdent).join(', ')}) ${SESSIONS_ROW_SQL}`, params);
  const open = await conn.runAndReadAll(`SELECT count(*)::INTEGER FROM sessions WHERE root_id = $root AND status = 'running'`, { root });
  return Number(open.getRows()[0][0]);
}

/**
 * Ingests what is new in one audit log. `prior` is what was ingested before
 * (null: nothing). Returns null when there is nothing to do.
 */
export async function ingestLog(conn: DuckDBConnection, file: string, prior: LogState | null): Promise<LogIngest | null> {
  const name = path.basename(file);
  const root = path.basename(file, '.jsonl');
  const snap = snapshot(file);
  if (!snap) return null;
  if (prior && (snap.completeBytes < prior.bytes || !continues(file, prior))) {
    // The log was replaced or rewritten: take it again from the start.
    await purgeLog(conn, root);
    prior = null;
  }
  if (prior && snap.completeBytes === prior.bytes) return null;

  const from = prior?.lines ?? 0;
  const to = snap.lastLineSeq;
  // Calls from `from` on; the session-level lines of the whole log (few) to recompute its sessions.
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE raw AS SELECT * FROM ${readJsonSql(file)} ` +
      `WHERE line_seq <= ${to} AND (line_seq >= ${from} OR type IN ${SESSION_LEVEL_TYPES})`,
  );
  try {
    let calls = 0;
    for (const [table, row, type] of [
      [MODEL_CALLS.name, MODEL_CALL_ROW, 'model_call'],
      [TOOL_CALLS.name, TOOL_CALL_ROW, 'tool_call'],
    ] as const) {
      const r = await conn.run(insertCallsSql(table, row, type), { root, from });
      calls += Number(r.rowsChanged);
    }
    const fresh = await conn.runAndReadAll(`SELECT count(*)::BIGINT FROM raw WHERE line_seq >= $from`, { from });
    const writer = await currentWriter(conn);
    const alive = writer ? writerAlive(writer.pid, writer.since) : false;
    const open = await recomputeSessions(conn, root, writer?.line ?? 0, alive);
    return {
      lines: Number(fresh.getRows()[0][0]),
      calls,
      state: {
        file: name,
        lines: to + 1,
        bytes: snap.completeBytes,
        last_hash: snap.lastHash,
        writer_pid: writer?.pid ?? null,
        writer_since: writer?.since ?? null,
        open_sessions: open,
      },
    };
  } finally {
    await conn.run('DROP TABLE IF EXISTS raw');
  }
}

/** The process that writes the log now: the last run_started or resume notice. */
async function currentWriter(conn: DuckDBConnection): Promise<{ pid: number; since: string; line: number } | null> {
  const r = await conn.runAndReadAll(
    `SELECT pid, ts, line_seq FROM raw
     WHERE pid IS NOT NULL AND (type = 'run_started' OR (type = 'notice' AND kind = 'resume'))
     ORDER BY line_seq DESC LIMIT 1`,
  );
  const row = r.getRows()[0];
  if (!row) return null;
  return { pid: Number(row[0]), since: String(row[1]), line: Number(row[2]) };
}

/** Sessions still shown as running in a log that did not change: their writer may have died since. */
export async function refreshOpenSessions(conn: DuckDBConnection, state: LogState): Promise<LogState> {
  if (state.open_sessions === 0) return state;
  if (state.writer_pid !== null && state.writer_since !== null && writerAlive(state.writer_pid, state.writer_since)) return state;
  const root = path.basename(state.file, '.jsonl');
  await conn.run(`UPDATE sessions SET status = 'interrupted', error = $error WHERE root_id = $root AND status = 'running'`, {
    root,
    error: INTERRUPTED_ERROR,
  });
  return { ...state, open_sessions: 0 };
}

export async function purgeLog(conn: DuckDBConnection, root: string): Promise<void> {
  for (const t of [MODEL_CALLS.name, TOOL_CALLS.name, SESSIONS.name]) {
    await conn.run(`DELETE FROM ${quoteIdent(t)} WHERE root_id = $root`, { root });
  }
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
          case 'root_id': appender.appendVarchar(path.basename(s.file, '.jsonl')); break;
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

export const TOOL_CALL_COLUMNS = Object.keys(TOOL_CALL_ROW);
export const MODEL_CALL_COLUMNS = Object.keys(MODEL_CALL_ROW);
