// The metrics database, .choragen/metrics.duckdb: opened for a moment,
// brought up to date from the audit logs, queried, closed. The audit logs are
// the record; the database is a view of them that can always be rebuilt, so a
// database held by another process only defers ingestion (and queries answer
// from an in-memory copy fed from the logs).
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
import { type LogState, type PlannedLog, ingestBatch, planLog, readLogStates, refreshOpenSessions, removeStaleSplitDirs } from './ingest.js';
import { inTransaction } from './transaction.js';

export interface IngestResult {
  /** True when another process held the database: nothing was written, the logs wait for the next open. */
  deferred: boolean;
  /** Logs that had new lines. */
  logs: number;
  /** New audit lines ingested (all event types). */
  lines: number;
  /** New model_calls + tool_calls rows. */
  calls: number;
}

export interface QueryResult {
  columns: string[];
  rows: Record<string, unknown>[];
}

export interface StoreOptions {
  /** How long to retry a database locked by another process (default 1500 ms). */
  lockWaitMs?: number;
}

export type MetricsSource = 'file' | 'memory';

const DEFAULT_LOCK_WAIT_MS = 1500;

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isLockError(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err);
  return /Could not set lock|Conflicting lock|database is locked|lock on file/i.test(m);
}

function firstLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown error';
}

/** Opens the file database, retrying while another process holds it; null if it stays locked. */
async function openFileDb(dbPath: string, waitMs: number): Promise<DuckDBInstance | null> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  fs.mkdirSync(path.dirname(dbPath), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (let delay = 25; ; delay = Math.min(delay * 2, 400)) {
    try {
      return await DuckDBInstance.create(dbPath);
    } catch (err) {
      if (!isLockError(err)) {
        throw new ChoragenError(`cannot open the metrics database ${dbPath}: ${firstLine(err)} (it can be deleted: it is rebuilt from the audit logs)`);
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await sleep(Math.min(delay, left));
    }
  }
}

async function ensureSchema(conn: DuckDBConnection): Promise<void> {
  await conn.run(`SET TimeZone = 'UTC'`);
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
  const statements = migrationSql({ tables, views });
  if (statements.length === 0 && version === SCHEMA_VERSION) return;
  const hadData = [...tables.keys()].some((t) => t !== SCHEMA_VERSION_TABLE.name);
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
  const result: IngestResult = { deferred: false, logs: 0, lines: 0, calls: 0 };
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
    } catch (err) {
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

/**
 * Opens the metrics database (or, when another process holds it, an
 * in-memory one fed from all the audit logs), ingests, runs `fn`, closes.
 * `source` tells which one `fn` got. With `memoryFallback: false` a locked
 * database gives `null` instead.
 */
export async function withMetrics<T>(
  workspace: string,
  fn: (conn: DuckDBConnection, source: MetricsSource, ingest: IngestResult) => Promise<T>,
  opts: StoreOptions & { memoryFallback?: boolean } = {},
): Promise<T | null> {
  assertWorkspace(workspace);
  const dbPath = path.resolve(workspacePaths(workspace).metrics);
  const nothing: IngestResult = { deferred: false, logs: 0, lines: 0, calls: 0 };
  // Not a choragen workspace (yet): answer from empty tables rather than create .choragen/ here.
  if (!fs.existsSync(workspacePaths(workspace).state)) return withMemoryMetrics(workspace, (conn) => fn(conn, 'memory', nothing));
  return serialized(dbPath, async () => {
    const instance = await openFileDb(dbPath, opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
    if (instance) {
      try {
        const conn = await instance.connect();
        try {
          await ensureSchema(conn);
          const ingest = await ingestInto(conn, workspace, true);
          return await fn(conn, 'file', ingest);
        } finally {
          conn.closeSync();
        }
      } finally {
        instance.closeSync();
      }
    }
    const deferred: IngestResult = { deferred: true, logs: 0, lines: 0, calls: 0 };
    if (opts.memoryFallback === false) return null;
    return withMemoryMetrics(workspace, (conn) => fn(conn, 'memory', deferred));
  });
}

/** An in-memory database fed from every audit log of the workspace. */
export async function withMemoryMetrics<T>(workspace: string, fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const conn = await instance.connect();
    try {
      await ensureSchema(conn);
      await ingestInto(conn, workspace, false);
      return await fn(conn);
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
 * stopped. If another process holds the database for longer than the lock
 * wait, returns `{ deferred: true }` without error.
 */
export async function ingestWorkspace(workspace: string, opts: StoreOptions = {}): Promise<IngestResult> {
  const r = await withMetrics(workspace, async (_conn, _source, ingest) => ingest, { ...opts, memoryFallback: false });
  return r ?? { deferred: true, logs: 0, lines: 0, calls: 0 };
}

// Statements a query may be: reads only.
const READ_KEYWORDS = /^(select|with|pragma|describe|show|explain|summarize|from|values|table)\b/i;

function leadingKeyword(sql: string): string {
  // Skip whitespace, comments and opening parentheses.
  const s = sql.replace(/^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/|\()*/, '');
  return s;
}

/** Rejects anything but one read-only statement (UsageError). */
export function assertReadOnlySql(sql: string): void {
  if (sql.trim() === '') throw new UsageError('empty SQL: give one SELECT statement');
  if (!READ_KEYWORDS.test(leadingKeyword(sql))) {
    throw new UsageError('only read-only SQL is allowed (SELECT, WITH, PRAGMA, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE)');
  }
}

/** Runs one read-only statement and returns plain JSON-able rows. */
export async function runReadOnly(conn: DuckDBConnection, sql: string): Promise<QueryResult> {
  assertReadOnlySql(sql);
  const { StatementType } = await import('@duckdb/node-api');
  let reader;
  try {
    const extracted = await conn.extractStatements(sql);
    if (extracted.count !== 1) throw new UsageError('give exactly one SQL statement');
    const prepared = await extracted.prepare(0);
    const allowed = [StatementType.SELECT, StatementType.EXPLAIN, StatementType.PRAGMA];
    if (!allowed.includes(prepared.statementType)) {
      throw new UsageError('only read-only SQL is allowed (SELECT, WITH, PRAGMA, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE)');
    }
    reader = await prepared.runAndReadAll();
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`SQL error: ${firstLine(err)}`);
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

