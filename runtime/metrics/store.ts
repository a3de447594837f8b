// The metrics database, .choragen/metrics.duckdb: opened for a moment,
// brought up to date from the audit logs, queried, closed. The audit logs are
// the record; the database is a view of them that can always be rebuilt, so a
// database that cannot be used now (held by another process for too long, on
// a read-only or full disk, damaged) only defers ingestion, and queries answer
// from an in-memory copy fed from the logs, with a note that says why.
//
// '@duckdb/node-api' is imported inside functions only: loading this module
// costs nothing until metrics are used.
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { ChoragenError, UsageError } from '../../policy/errors.js';
import { auditLogFiles } from '../audit/log.js';
import { workspacePaths } from '../paths.js';
import { REBUILD_BELOW_VERSION, SCHEMA_VERSION, SCHEMA_VERSION_TABLE, TABLES, migrationSql, quoteIdent } from './schema.js';
import { type DamagedLog, type LogState, type PlannedLog, ingestBatch, pendingWork, planLog, readLogStates, refreshOpenSessions, removeStaleSplitDirs } from './ingest.js';
import { cutLogs } from './cut-logs.js';
import { firstLine, isCorruption, openMetricsDb, relativeTo, unusableReason } from './open-db.js';
import { inTransaction } from './transaction.js';

export interface IngestResult {
  /** True when the database could not be used (see `reason`): nothing was written, the logs wait for the next open. */
  deferred: boolean;
  /** Why it was deferred (one line), when it was. */
  reason?: string;
  /** Logs that had new lines. */
  logs: number;
  /** New audit lines ingested (all event types). */
  lines: number;
  /** New model_calls + tool_calls rows. */
  calls: number;
  /** Logs whose hash chain breaks: ingested only up to the break (see ingest.ts). */
  damaged: DamagedLog[];
}

export interface QueryResult {
  columns: string[];
  rows: Record<string, unknown>[];
}

export interface StoreOptions {
  /**
   * How long to wait for a database another process holds without a sign of
   * it working (default 3 s; an ingest in progress is waited for longer).
   */
  lockWaitMs?: number;
  /**
   * Told, one line each, why an answer comes from an in-memory copy and of
   * every damaged audit log (the CLI prints them on stderr).
   */
  note?: (message: string) => void;
}

export type MetricsSource = 'file' | 'memory';

const DEFAULT_LOCK_WAIT_MS = 3000;

// One open at a time per database file within this process: DuckDB's file
// lock only keeps other processes out.
const openChains = new Map<string, Promise<unknown>>();

function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = openChains.get(key) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const tail = run.catch(() => undefined);
  openChains.set(key, tail);
  void tail.then(() => {
    if (openChains.get(key) === tail) openChains.delete(key);
  });
  return run;
}

/** The statements that bring the file's schema up to date, and the version it records. */
async function schemaChanges(conn: DuckDBConnection): Promise<{ statements: string[]; version: number | null; hadData: boolean }> {
  const here = `schema_name = 'main' AND database_name = current_database()`;
  const cols = await conn.runAndReadAll(
    `SELECT c.table_name, c.column_name FROM duckdb_columns() c JOIN duckdb_tables() t USING (database_name, schema_name, table_name) WHERE ${here}`,
  );
  const tables = new Map<string, Set<string>>();
  for (const [t, c] of cols.getRows()) {
    const names = tables.get(String(t)) ?? new Set<string>();
    names.add(String(c));
    tables.set(String(t), names);
  }
  const views = new Set((await conn.runAndReadAll(`SELECT view_name FROM duckdb_views() WHERE ${here}`)).getRows().map(([v]) => String(v)));
  let version: number | null = null;
  if (tables.has(SCHEMA_VERSION_TABLE.name)) {
    const v = await conn.runAndReadAll(`SELECT max(version) FROM ${SCHEMA_VERSION_TABLE.name}`);
    version = v.getRows()[0]?.[0] == null ? null : Number(v.getRows()[0][0]);
  }
  return { statements: migrationSql({ tables, views }), version, hadData: [...tables.keys()].some((t) => t !== SCHEMA_VERSION_TABLE.name) };
}

const schemaIsCurrent = ({ statements, version }: { statements: string[]; version: number | null }) =>
  statements.length === 0 && version === SCHEMA_VERSION;

async function ensureSchema(conn: DuckDBConnection): Promise<void> {
  await conn.run(`SET TimeZone = 'UTC'`);
  const { statements, version, hadData } = await schemaChanges(conn);
  if (schemaIsCurrent({ statements, version })) return;
  await inTransaction(conn, async () => {
    for (const sql of statements) await conn.run(sql);
    if (hadData && (version ?? 0) < REBUILD_BELOW_VERSION) {
      for (const t of TABLES) if (t !== SCHEMA_VERSION_TABLE) await conn.run(`DELETE FROM ${quoteIdent(t.name)}`);
    }
    await conn.run(`DELETE FROM ${SCHEMA_VERSION_TABLE.name}`);
    await conn.run(`INSERT INTO ${SCHEMA_VERSION_TABLE.name} VALUES (${Math.max(SCHEMA_VERSION, version ?? 0)})`);
  });
}

export function assertWorkspace(workspace: string): void {
  let ok = false;
  try {
    ok = fs.statSync(workspace).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError(`workspace ${workspace} is not a directory`);
}

/**
 * A checkpoint after an ingest that added at least this many calls (one row
 * group) does not compact the tables: the few part-filled row groups a bulk
 * insert leaves are merged by a later, smaller ingest's checkpoint, rather
 * than rewritten while the user waits for the bulk one.
 */
const BULK_CALLS = 122_880;

/**
 * Brings the database behind `conn` up to date with the workspace's audit
 * logs; `durable` for the file database, which is checkpointed here.
 */
async function ingestInto(conn: DuckDBConnection, workspace: string, durable: boolean): Promise<IngestResult> {
  const states = await readLogStates(conn);
  const result: IngestResult = { deferred: false, logs: 0, lines: 0, calls: 0, damaged: [] };
  // Row order inside the tables carries no meaning; without it DuckDB reads
  // and writes in parallel. Each row group is written out as soon as it is
  // full, while it is still in cache, rather than five at a time. FSST, a
  // string compression that pays off on long varied text, is not tried: the
  // calls' strings are short and repetitive (dictionary compression takes
  // them), and analysing every string column for it is wasted work.
  const settings = { preserve_insertion_order: 'false', write_buffer_row_group_count: '1', disabled_compression_methods: `'fsst'` };
  await conn.run(Object.entries(settings).map(([k, v]) => `SET ${k} = ${v}`).join('; '));
  try {
    removeStaleSplitDirs(workspacePaths(workspace).state);
    await ingestFiles(conn, workspace, states, result);
    if (durable && result.calls >= BULK_CALLS) await conn.run('SET max_vacuum_tasks = 0; CHECKPOINT');
  } finally {
    await conn.run([...Object.keys(settings), 'max_vacuum_tasks'].map((k) => `RESET ${k}`).join('; '));
  }
  return result;
}

// Logs are read in batches of about this many bytes: one read per table and
// one commit per batch, with a batch's split files kept to a bounded size.
const BATCH_BYTES = 512 * 1024 * 1024;

async function ingestFiles(conn: DuckDBConnection, workspace: string, states: Map<string, LogState>, result: IngestResult): Promise<void> {
  let batch: PlannedLog[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    try {
      const done = await ingestBatch(conn, batch, workspacePaths(workspace).state);
      result.logs += batch.length;
      result.lines += done.lines;
      result.calls += done.calls;
      result.damaged.push(...done.damaged);
    } catch (err) {
      // The database's own trouble (a full disk, a bad block) is the caller's to explain.
      if (unusableReason(err, '')) throw err;
      throw new ChoragenError(`cannot ingest ${batch.map((l) => l.name).join(', ')} into metrics: ${firstLine(err)}`);
    }
    batch = [];
    batchBytes = 0;
  };
  for (const file of auditLogFiles(workspace)) {
    const prior = states.get(path.basename(file)) ?? null;
    const planned = planLog(file, prior);
    if (!planned) {
      if (prior) await refreshOpenSessions(conn, prior);
      continue;
    }
    if (batch.length > 0 && batchBytes + planned.completeBytes > BATCH_BYTES) await flush();
    batch.push(planned);
    batchBytes += planned.completeBytes;
  }
  await flush();
}

const NOTHING: IngestResult = { deferred: false, logs: 0, lines: 0, calls: 0, damaged: [] };

/** A note per damaged log: which file, which line, and how much of it the metrics hold. */
export function damagedNote(workspace: string, d: DamagedLog): string {
  const held = d.ingestedLines > 0 ? `the metrics hold only its first ${d.ingestedLines} line${d.ingestedLines === 1 ? '' : 's'}` : 'the metrics hold none of it';
  return `audit log ${relativeTo(workspace, d.file)} is damaged at line ${d.line} (${d.reason}): ${held}; run \`choragen audit:verify\``;
}

/** A note per damaged log, every time: a chain that breaks (found by ingest) or a log cut short (cut-logs.ts). */
function noteDamaged(workspace: string, logs: readonly string[], ingest: IngestResult, note: (message: string) => void): void {
  for (const d of [...ingest.damaged, ...cutLogs(logs, ingest.damaged)]) note(damagedNote(workspace, d));
}

type Outcome<T> = { value: T } | { unusable: string };

/**
 * Opens the file database and runs `fn` on it, brought up to date; or says
 * why it cannot be used (then nothing was written).
 */
async function onFileDb<T>(
  workspace: string,
  fn: (conn: DuckDBConnection, source: MetricsSource, ingest: IngestResult) => Promise<T>,
  opts: StoreOptions,
  note: (message: string) => void,
): Promise<Outcome<T>> {
  const dbPath = path.resolve(workspacePaths(workspace).metrics);
  const shown = relativeTo(workspace, dbPath);
  const logs = auditLogFiles(workspace);
  const upToDate = async (db: DuckDBInstance) => {
    const conn = await db.connect();
    try {
      return schemaIsCurrent(await schemaChanges(conn)) && !(await pendingWork(conn, logs));
    } finally {
      conn.closeSync();
    }
  };
  const opened = await openMetricsDb(dbPath, opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, upToDate, shown);
  if ('unusable' in opened) return opened;
  try {
    const conn = await opened.instance.connect();
    try {
      let ingest = NOTHING;
      if (opened.access === 'write') {
        await ensureSchema(conn);
        ingest = await ingestInto(conn, workspace, true);
      } else {
        await conn.run(`SET TimeZone = 'UTC'`);
      }
      noteDamaged(workspace, logs, ingest, note);
      return { value: await fn(conn, 'file', ingest) };
    } finally {
      conn.closeSync();
    }
  } catch (err) {
    // choragen's own errors (a SQL error in a query) are about the request, not the file.
    const unusable = err instanceof ChoragenError ? null : unusableReason(err, dbPath, shown);
    if (unusable) return { unusable };
    throw err;
  } finally {
    opened.instance.closeSync();
  }
}

/**
 * Opens the metrics database, brings it up to date with the audit logs, runs
 * `fn`, closes. When the database cannot be used (held by another process for
 * longer than the wait, a read-only or full disk, no permission, damaged),
 * `fn` gets an in-memory database fed from all the audit logs instead, and
 * `opts.note` is told why. `source` tells which one `fn` got.
 */
export async function withMetrics<T>(
  workspace: string,
  fn: (conn: DuckDBConnection, source: MetricsSource, ingest: IngestResult) => Promise<T>,
  opts: StoreOptions = {},
): Promise<T> {
  assertWorkspace(workspace);
  const note = onceEach(opts.note);
  // Not a choragen workspace (yet): answer from empty tables rather than create .choragen/ here.
  if (!fs.existsSync(workspacePaths(workspace).state)) return withMemoryMetrics(workspace, (conn) => fn(conn, 'memory', NOTHING));
  return serialized(path.resolve(workspacePaths(workspace).metrics), async () => {
    const outcome = await onFileDb(workspace, fn, opts, note);
    if ('value' in outcome) return outcome.value;
    note(`${outcome.unusable}; answered from the audit logs in memory`);
    return withMemoryMetrics(workspace, (conn, ingest) => fn(conn, 'memory', { ...ingest, deferred: true, reason: outcome.unusable }), note);
  });
}

/** `note`, told each message once (a retry in memory finds the same damaged logs again). */
function onceEach(note: ((message: string) => void) | undefined): (message: string) => void {
  const seen = new Set<string>();
  return (message) => {
    if (!seen.has(message)) note?.(message);
    seen.add(message);
  };
}

/** An in-memory database fed from every audit log of the workspace; damaged logs are told to `note`. */
export async function withMemoryMetrics<T>(
  workspace: string,
  fn: (conn: DuckDBConnection, ingest: IngestResult) => Promise<T>,
  note: (message: string) => void = () => {},
): Promise<T> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const conn = await instance.connect();
    try {
      await ensureSchema(conn);
      const ingest = await ingestInto(conn, workspace, false);
      noteDamaged(workspace, auditLogFiles(workspace), ingest, note);
      return await fn(conn, ingest);
    } finally {
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/**
 * Ingests every audit log of the workspace not yet fully ingested. Idempotent:
 * lines already ingested add nothing; a log that grew continues where it
 * stopped. If the database cannot be used now (another process holds it for
 * longer than the lock wait, a read-only or full disk), returns
 * `{ deferred: true, reason }` without error.
 */
export async function ingestWorkspace(workspace: string, opts: StoreOptions = {}): Promise<IngestResult> {
  assertWorkspace(workspace);
  if (!fs.existsSync(workspacePaths(workspace).state)) return NOTHING;
  const outcome = await serialized(path.resolve(workspacePaths(workspace).metrics), () =>
    onFileDb(workspace, async (_conn, _source, ingest) => ingest, opts, onceEach(opts.note)));
  return 'value' in outcome ? outcome.value : { ...NOTHING, deferred: true, reason: outcome.unusable };
}

// Statements that change something: refused by name, so a typo in a read
// (`SELEC`) is reported by the parser as the syntax error it is. DuckDB's
// statement type decides in the end (runReadOnly).
const WRITE_KEYWORDS = /^(insert|update|delete|create|drop|alter|copy|attach|detach|install|load|set|reset|export|import|checkpoint|vacuum|call|begin|commit|rollback|abort|start|end|use|truncate|merge|upsert|replace|grant|revoke|comment|analyze|prepare|execute|deallocate|force|update_extensions)\b/i;

const READ_ONLY = 'metrics:query runs read-only SQL (SELECT, WITH, PRAGMA, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE)';

function leadingKeyword(sql: string): string {
  // Skip whitespace, comments and opening parentheses.
  const s = sql.replace(/^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/|\()*/, '');
  return s;
}

/** Rejects an empty statement and one that begins by changing something (UsageError). */
export function assertReadOnlySql(sql: string): void {
  if (sql.trim() === '') throw new UsageError('empty SQL: give one SELECT statement');
  const write = WRITE_KEYWORDS.exec(leadingKeyword(sql));
  if (write) throw new UsageError(`${READ_ONLY}; ${write[1]!.toUpperCase()} would change something, and the metrics are rebuilt from the audit logs anyway`);
}

/** Runs one read-only statement and returns plain JSON-able rows. */
export async function runReadOnly(conn: DuckDBConnection, sql: string): Promise<QueryResult> {
  assertReadOnlySql(sql);
  const { StatementType } = await import('@duckdb/node-api');
  let reader;
  // From here on the query sees the attached database only: no file, no URL, no extension (it cannot be turned back on).
  await conn.run('SET enable_external_access = false');
  try {
    const extracted = await conn.extractStatements(sql);
    if (extracted.count !== 1) throw new UsageError('give exactly one SQL statement');
    const prepared = await extracted.prepare(0);
    const allowed = [StatementType.SELECT, StatementType.EXPLAIN, StatementType.PRAGMA];
    if (!allowed.includes(prepared.statementType)) {
      throw new UsageError(`${READ_ONLY}; this statement would change something`);
    }
    reader = await prepared.runAndReadAll();
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (isCorruption(err)) throw err; // the file's fault, not the query's: the caller answers from the logs
    throw new UsageError(`SQL error: ${firstLine(err).replace(/^Failed to extract statements: /, '')}`);
  }
  const columns = uniqueNames(reader.columnNames());
  const rows = reader.getRowsJS().map((row) => {
    const o: Record<string, unknown> = {};
    row.forEach((v, i) => {
      o[columns[i]] = toPlain(v);
    });
    return o;
  });
  return { columns, rows };
}

/** Ingests (if it can), then runs read-only SQL over the metrics tables. */
export async function queryMetrics(workspace: string, sql: string, opts: StoreOptions = {}): Promise<QueryResult> {
  assertReadOnlySql(sql);
  const r = await withMetrics(workspace, (conn) => runReadOnly(conn, sql), opts);
  return r as QueryResult;
}

function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const k = seen.get(n) ?? 0;
    seen.set(n, k + 1);
    return k === 0 ? n : `${n}_${k + 1}`;
  });
}

/** DuckDB's JS values → JSON-able values: integers of any width as numbers, timestamps as ISO strings. */
export function toPlain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toPlain(x);
    return o;
  }
  return v;
}

