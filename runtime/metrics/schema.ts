// The DuckDB schema of .choragen/metrics.duckdb: the public tables of
// DESIGN.md §5 plus bookkeeping. Columns are public interface: add, never
// rename or retype. A new column goes at the END of its table's list; opening
// an older file adds it (ensureSchema), so every version reads every file.
//
// model_calls and tool_calls are views: each row is stored with its log as a
// small number (log_no, in model_call_rows / tool_call_rows) and the view
// adds the log's root_id and log_id from audit_logs, rather than every row
// carrying two 14-character strings through the bulk insert.
//
// Pure data and SQL text: no DuckDB import here.

export interface TableDef {
  name: string;
  columns: ReadonlyArray<readonly [name: string, type: string]>;
}

// `log_id` (added) names the audit log a row was ingested from: the run's
// root session id. It equals root_id except for a resumed run, whose log is
// new while its sessions keep the root_id of the tree they continue.
//
// Durations are DOUBLE milliseconds: a tool call often takes a fraction of one.
// Costs are DECIMAL(18,9) so a session's total equals the sum of its calls
// exactly (prices are multiples of $0.01 per million tokens = 1e-8 per token).
export const SESSIONS: TableDef = {
  name: 'sessions',
  columns: [
    ['session_id', 'VARCHAR'],
    ['parent_id', 'VARCHAR'],
    ['root_id', 'VARCHAR'],
    ['role', 'VARCHAR'],
    ['depth', 'INTEGER'],
    ['model', 'VARCHAR'],
    ['task_id', 'VARCHAR'],
    ['chain_id', 'VARCHAR'],
    ['status', 'VARCHAR'],
    ['started_at', 'TIMESTAMP'],
    ['ended_at', 'TIMESTAMP'],
    ['duration_ms', 'DOUBLE'],
    ['input_tokens', 'BIGINT'],
    ['output_tokens', 'BIGINT'],
    ['cache_read_tokens', 'BIGINT'],
    ['cache_write_tokens', 'BIGINT'],
    ['cost_usd', 'DECIMAL(18,9)'],
    ['model_calls', 'INTEGER'],
    ['tool_calls', 'INTEGER'],
    ['error', 'VARCHAR'],
    // added to DESIGN.md's list:
    ['final_text', 'VARCHAR'],
    ['files_changed', 'VARCHAR[]'],
    ['resumed_from', 'VARCHAR'],
    ['log_id', 'VARCHAR'],
    // schema version 4: the provider the session's model calls went to (DESIGN.md §5)
    ['provider', 'VARCHAR'],
    // schema version 5: times the conversation was compacted to fit the context window
    // (the default fills the rows of a file written before, which had none)
    ['compactions', 'INTEGER DEFAULT 0'],
    // schema version 6: the session agent:resume started to carry this one on
    ['resumed_by', 'VARCHAR'],
  ],
};

export const MODEL_CALLS: TableDef = {
  name: 'model_calls',
  columns: [
    ['session_id', 'VARCHAR'],
    ['seq', 'INTEGER'],
    ['started_at', 'TIMESTAMP'],
    ['duration_ms', 'DOUBLE'],
    ['model', 'VARCHAR'],
    ['input_tokens', 'BIGINT'],
    ['output_tokens', 'BIGINT'],
    ['cache_read_tokens', 'BIGINT'],
    ['cache_write_tokens', 'BIGINT'],
    ['stop_reason', 'VARCHAR'],
    ['retries', 'INTEGER'],
    // added to DESIGN.md's list:
    ['cost_usd', 'DECIMAL(18,9)'],
    ['error', 'VARCHAR'],
    ['root_id', 'VARCHAR'],
    ['log_id', 'VARCHAR'],
  ],
};

export const TOOL_CALLS: TableDef = {
  name: 'tool_calls',
  columns: [
    ['session_id', 'VARCHAR'],
    ['seq', 'INTEGER'],
    ['tool', 'VARCHAR'],
    ['started_at', 'TIMESTAMP'],
    ['duration_ms', 'DOUBLE'],
    ['decision', 'VARCHAR'],
    ['rule', 'VARCHAR'],
    ['path', 'VARCHAR'],
    ['is_error', 'BOOLEAN'],
    ['error', 'VARCHAR'],
    // added to DESIGN.md's list:
    ['root_id', 'VARCHAR'],
    ['log_id', 'VARCHAR'],
    // DESIGN.md §5, set for run_command only (schema version 7):
    ['command', 'VARCHAR'],
    ['exit_code', 'INTEGER'],
  ],
};

/**
 * What has been ingested from each audit log (by file name under
 * .choragen/audit/): `lines` complete lines = `bytes` bytes, the last one
 * hashing to `last_hash`. A log that grew continues after `lines`; a log whose
 * prefix no longer matches is ingested again from the start.
 */
export const INGESTED_LOGS: TableDef = {
  name: 'ingested_logs',
  columns: [
    ['file', 'VARCHAR'],
    ['log_id', 'VARCHAR'],
    ['lines', 'BIGINT'],
    ['bytes', 'BIGINT'],
    ['last_hash', 'VARCHAR'],
    ['writer_pid', 'BIGINT'],
    ['writer_since', 'TIMESTAMP'],
    ['open_sessions', 'INTEGER'],
    ['ingested_at', 'TIMESTAMP'],
  ],
};

export const SCHEMA_VERSION_TABLE: TableDef = {
  name: 'schema_version',
  columns: [['version', 'INTEGER']],
};

/** One row per audit log ever ingested: the number its calls rows store, its id, the tree its sessions belong to. */
export const AUDIT_LOGS: TableDef = {
  name: 'audit_logs',
  columns: [
    ['log_no', 'INTEGER'],
    ['log_id', 'VARCHAR'],
    ['root_id', 'VARCHAR'],
  ],
};

/** The columns a calls view takes from audit_logs rather than from each row. */
const LOG_COLUMNS: ReadonlySet<string> = new Set(['root_id', 'log_id']);

/** A public calls table stored as rows that name their log by number, behind a view of the public columns. */
export interface CallsView {
  view: TableDef;
  rows: TableDef;
}

function callsView(view: TableDef, rowsName: string): CallsView {
  const own = view.columns.filter(([n]) => !LOG_COLUMNS.has(n));
  return { view, rows: { name: rowsName, columns: [...own, ['log_no', 'INTEGER']] } };
}

export const MODEL_CALLS_VIEW = callsView(MODEL_CALLS, 'model_call_rows');
export const TOOL_CALLS_VIEW = callsView(TOOL_CALLS, 'tool_call_rows');
export const CALLS_VIEWS: readonly CallsView[] = [MODEL_CALLS_VIEW, TOOL_CALLS_VIEW];

/** The stored tables. */
export const TABLES: readonly TableDef[] = [SESSIONS, MODEL_CALLS_VIEW.rows, TOOL_CALLS_VIEW.rows, AUDIT_LOGS, INGESTED_LOGS, SCHEMA_VERSION_TABLE];
/** The tables a user queries and exports (two of them views). */
export const PUBLIC_TABLES: readonly TableDef[] = [SESSIONS, MODEL_CALLS, TOOL_CALLS];

/**
 * Bumped whenever a column is added, so `SELECT version FROM schema_version` tells what a file holds.
 * 4: sessions.provider (NULL for sessions of logs written before it).
 * 5: sessions.compactions (0 for sessions of logs written before it).
 * 6: sessions.resumed_by, and logs ingested only as far as their hash chain verifies.
 * 7: tool_calls.command and tool_calls.exit_code (run_command).
 */
export const SCHEMA_VERSION = 7;

/**
 * A file older than this holds rows in a layout this version no longer
 * writes (before 2: rows without log_id; before 3: calls as tables rather
 * than rows behind views; before 6: rows from logs whose hash chain was not
 * checked, and sessions without resumed_by): opening it drops those tables
 * and empties the others, so that every log is ingested again. The audit
 * logs are the record; nothing is lost.
 */
export const REBUILD_BELOW_VERSION = 6;

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
export const quoteString = (s: string) => `'${s.replace(/'/g, "''")}'`;

export function createTableSql(t: TableDef): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(t.name)} (${t.columns.map(([n, ty]) => `${quoteIdent(n)} ${ty}`).join(', ')})`;
}

export function createViewSql({ view, rows }: CallsView): string {
  const cols = view.columns.map(([n]) => `${LOG_COLUMNS.has(n) ? 'l' : 'r'}.${quoteIdent(n)}`);
  return (
    `CREATE OR REPLACE VIEW ${quoteIdent(view.name)} AS SELECT ${cols.join(', ')} ` +
    `FROM ${quoteIdent(rows.name)} r JOIN ${AUDIT_LOGS.name} l USING (log_no)`
  );
}

/** What a database file holds: its tables (name → column names) and the names of its views. */
export interface ExistingSchema {
  tables: ReadonlyMap<string, ReadonlySet<string>>;
  views: ReadonlySet<string>;
}

/**
 * The statements that bring a file holding `existing` up to date: a public
 * calls table of the old layout is dropped (its rows are ingested again, see
 * REBUILD_BELOW_VERSION), missing tables and columns are added, and the views
 * are made again whenever anything under them changed.
 */
export function migrationSql(existing: ExistingSchema): string[] {
  const out: string[] = [];
  for (const { view } of CALLS_VIEWS) {
    if (existing.tables.has(view.name)) out.push(`DROP TABLE ${quoteIdent(view.name)}`);
  }
  for (const t of TABLES) {
    const have = existing.tables.get(t.name);
    if (!have) {
      out.push(createTableSql(t));
      continue;
    }
    for (const [n, ty] of t.columns) {
      if (!have.has(n)) out.push(`ALTER TABLE ${quoteIdent(t.name)} ADD COLUMN ${quoteIdent(n)} ${ty}`);
    }
  }
  if (out.length > 0 || CALLS_VIEWS.some(({ view }) => !existing.views.has(view.name))) {
    for (const v of CALLS_VIEWS) out.push(createViewSql(v));
  }
  return out;
}
