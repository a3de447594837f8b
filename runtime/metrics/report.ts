// The queries behind metrics:summary, agent:list and agent:show. They run on
// a connection that withMetrics() has opened and brought up to date.
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { toPlain } from './store.js';

type Row = Record<string, unknown>;

/**
 * A session's tokens, as `--max-tokens` counts them and the final line of a
 * run shows them: every prompt token, read from the cache or not, and the
 * output. (input_tokens alone is only the uncached part of the prompt.)
 */
export const ALL_TOKENS = 'input_tokens + output_tokens + cache_read_tokens + cache_write_tokens';

export async function rowsOf(conn: DuckDBConnection, sql: string, params?: Record<string, DuckDBValue>): Promise<Row[]> {
  const reader = await conn.runAndReadAll(sql, params);
  const names = reader.columnNames();
  return reader.getRowsJS().map((r) => Object.fromEntries(r.map((v, i) => [names[i], toPlain(v)])));
}

export interface Summary {
  since: string | null;
  totals: Row;
  sessions: Row[];
  /** Tokens and cost by role and the model (and provider) its sessions ran on. */
  models: Row[];
  top_tools: Row[];
  denials: Row[];
  /** run_command calls by the role of the session that made them: run, refused, and how the ones that ran ended. */
  commands: Row[];
  slowest_tool_calls: Row[];
  /** Time spent in the summary's queries. */
  query_ms: number;
}

/** Everything metrics:summary shows, for sessions and calls that started at or after `since`. */
export async function summarize(conn: DuckDBConnection, since: Date | null): Promise<Summary> {
  const t0 = performance.now();
  // A TIMESTAMP literal: the filter folds into the scans (prepared parameters can hide it from zone-map pruning).
  const sinceSql = since ? `TIMESTAMP '${since.toISOString().replace('T', ' ').replace('Z', '')}'` : null;
  const w = (col = 'started_at') => (sinceSql ? `WHERE ${col} >= ${sinceSql}` : '');
  const and = (col = 'started_at') => (sinceSql ? `AND ${col} >= ${sinceSql}` : '');
  const totals = await rowsOf(
    conn,
    `SELECT count(*)::BIGINT AS sessions,
            coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
            coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens, coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
            coalesce(sum(cost_usd), 0)::DOUBLE AS cost_usd,
            coalesce(sum(model_calls), 0) AS model_calls, coalesce(sum(tool_calls), 0) AS tool_calls,
            coalesce(sum(compactions), 0) AS compactions,
            -- the share of prompt tokens read from the prompt cache (null without any prompt)
            round(sum(cache_read_tokens) / nullif(sum(input_tokens + cache_read_tokens + cache_write_tokens), 0), 4)::DOUBLE AS cache_hit_rate
     FROM sessions ${w()}`,
  );
  const sessions = await rowsOf(
    conn,
    `SELECT coalesce(role, '?') AS role, status, count(*)::BIGINT AS sessions,
            sum(${ALL_TOKENS}) AS tokens, sum(cost_usd)::DOUBLE AS cost_usd
     FROM sessions ${w()} GROUP BY ALL ORDER BY role, sessions DESC`,
  );
  const models = await rowsOf(
    conn,
    `SELECT coalesce(role, '?') AS role, coalesce(model, '?') AS model, coalesce(provider, '?') AS provider,
            count(*)::BIGINT AS sessions, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
            sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
            sum(cost_usd)::DOUBLE AS cost_usd
     FROM sessions ${w()} GROUP BY ALL ORDER BY role, cost_usd DESC, model`,
  );
  // approx_quantile (a t-digest, no sort) keeps the summary fast over millions of calls;
  // metrics:query with quantile_cont gives exact percentiles (docs/metrics.md).
  const topTools = await rowsOf(
    conn,
    `SELECT tool, calls, errors, round(q[1], 3) AS p50_ms, round(q[2], 3) AS p95_ms
     FROM (SELECT tool, count(*)::BIGINT AS calls, count(*) FILTER (WHERE is_error)::BIGINT AS errors,
                  approx_quantile(duration_ms, [0.5, 0.95]) AS q
           FROM tool_calls ${w()} GROUP BY tool)
     ORDER BY calls DESC, tool LIMIT 10`,
  );
  const denials = await rowsOf(
    conn,
    `SELECT coalesce(rule, '(none)') AS rule, decision, count(*)::BIGINT AS calls
     FROM tool_calls WHERE decision IN ('deny', 'rejected', 'invalid') ${and()}
     GROUP BY ALL ORDER BY calls DESC, rule LIMIT 10`,
  );
  const commands = await rowsOf(
    conn,
    `SELECT coalesce(s.role, '?') AS role, count(*)::BIGINT AS commands,
            count(*) FILTER (WHERE t.decision IN ('deny', 'rejected', 'invalid') AND t.exit_code IS NULL)::BIGINT AS refused,
            count(*) FILTER (WHERE t.exit_code = 0)::BIGINT AS passed,
            count(*) FILTER (WHERE t.exit_code <> 0)::BIGINT AS failed,
            count(*) FILTER (WHERE t.exit_code IS NULL AND t.decision IN ('allow', 'approved'))::BIGINT AS not_finished
     FROM tool_calls t LEFT JOIN sessions s USING (session_id)
     WHERE t.tool = 'run_command' ${and('t.started_at')}
     GROUP BY ALL ORDER BY commands DESC, role`,
  );
  const slowest = await rowsOf(
    conn,
    `SELECT session_id, seq, tool, path, decision, round(duration_ms, 3) AS duration_ms, started_at
     FROM tool_calls ${w()} ORDER BY duration_ms DESC NULLS LAST LIMIT 5`,
  );
  return {
    since: since ? since.toISOString() : null,
    totals: totals[0],
    sessions,
    models,
    top_tools: topTools,
    denials,
    commands,
    slowest_tool_calls: slowest,
    query_ms: Math.round((performance.now() - t0) * 10) / 10,
  };
}

export async function countSessions(conn: DuckDBConnection): Promise<number> {
  return Number((await rowsOf(conn, 'SELECT count(*) AS n FROM sessions'))[0]?.n ?? 0);
}

/** The most recent sessions, newest first. */
export async function listSessions(conn: DuckDBConnection, limit: number): Promise<Row[]> {
  return rowsOf(
    conn,
    `SELECT session_id, role, model, provider, parent_id, status, started_at, ended_at, input_tokens, output_tokens,
            ${ALL_TOKENS} AS tokens, cost_usd::DOUBLE AS cost_usd, model_calls, tool_calls, error, resumed_from, resumed_by
     FROM sessions ORDER BY started_at DESC NULLS LAST, session_id LIMIT ${Math.max(0, Math.floor(limit))}`,
  );
}

export interface SessionDetail {
  session: Row;
  children: Row[];
  tool_calls: Row[];
  model_calls: Row[];
}

/** One session by id (or by a unique prefix of it); null if none. */
export async function sessionDetail(conn: DuckDBConnection, id: string): Promise<SessionDetail | null | { ambiguous: string[] }> {
  let found = await rowsOf(conn, `SELECT * FROM sessions WHERE session_id = $id`, { id });
  if (found.length === 0) {
    found = await rowsOf(conn, `SELECT * FROM sessions WHERE starts_with(session_id, $id) ORDER BY session_id LIMIT 6`, { id });
    if (found.length > 1) return { ambiguous: found.map((r) => String(r.session_id)) };
  }
  if (found.length === 0) return null;
  const session = found[0];
  const sid = String(session.session_id);
  const children = await rowsOf(
    conn,
    `SELECT session_id, role, model, provider, status, ${ALL_TOKENS} AS tokens, cost_usd::DOUBLE AS cost_usd, task_id
     FROM sessions WHERE parent_id = $sid ORDER BY started_at NULLS LAST, session_id`,
    { sid },
  );
  const toolCalls = await rowsOf(
    conn,
    `SELECT seq, tool, decision, rule, path, is_error, round(duration_ms, 3) AS duration_ms, error, command, exit_code
     FROM tool_calls WHERE session_id = $sid ORDER BY seq, started_at`,
    { sid },
  );
  const modelCalls = await rowsOf(
    conn,
    `SELECT seq, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd::DOUBLE AS cost_usd,
            stop_reason, retries, round(duration_ms, 1) AS duration_ms
     FROM model_calls WHERE session_id = $sid ORDER BY seq`,
    { sid },
  );
  return { session, children, tool_calls: toolCalls, model_calls: modelCalls };
}
