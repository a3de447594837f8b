// ingest_events_per_s and summary_1m_ms. Synthetic audit logs (written by the
// real AuditLog, so they are hash-chained and in the exact line format) hold
// 1,000,000 tool calls over 20 runs; ingest_events_per_s is every line of
// them ingested by ingestWorkspace into a fresh metrics.duckdb, the median of
// three such ingests (the first also pays for loading DuckDB); summary_1m_ms
// is metrics:summary's queries (runtime/metrics-report.ts `summarize`) over
// the result, on an open database.
import { closeSync, fsyncSync, openSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { AuditLog } from '../runtime/audit/log.js';
import type { ToolDecision } from '../runtime/audit/events.js';
import { newSessionId } from '../runtime/ids.js';
import { ingestWorkspace, withMetrics } from '../runtime/metrics/store.js';
import { summarize } from '../runtime/metrics/report.js';
import { workspacePaths } from '../runtime/paths.js';
import { makeBenchWorkspace, removeBenchWorkspace } from './bench-broker.js';
import { median, seededRandom, weightedPick } from './stats.js';

const TOOLS: Array<[number, string]> = [
  [0.38, 'read_file'], [0.16, 'search_files'], [0.12, 'list_files'], [0.12, 'edit_file'], [0.08, 'write_file'],
  [0.05, 'git_diff'], [0.04, 'git_status'], [0.02, 'delete_file'], [0.01, 'move_file'], [0.01, 'spawn_impl_session'], [1, 'complete_task'],
];
const DENY_RULES = ['mutations.deny[5]', 'mutations.deny[4]', 'reads.deny[2]', 'default', 'path'];

/** Writes `runs` audit logs of `toolCallsPerRun` tool calls; returns the number of lines written. */
export function writeSyntheticLogs(workspace: string, runs: number, toolCallsPerRun: number, seed = 1): number {
  const rnd = seededRandom(seed);
  const pick = <T>(table: Array<[number, T]>): T => weightedPick(rnd, table);
  let lines = 0;
  const t0 = Date.parse('2026-01-05T09:00:00Z');
  for (let run = 0; run < runs; run++) {
    const rootId = newSessionId();
    const log = AuditLog.open(workspace, rootId, {
      version: 'bench', policy_hash: 'f'.repeat(64), policy_file: 'choragen.governance.yaml', workspace, argv: ['bench'], sandbox: 'experimental-permission', pid: 1,
    });
    let clock = t0 + run * 3_600_000;
    const at = () => new Date((clock += 40 + rnd() * 400)).toISOString();
    let toolCalls = 0;
    let session = 0;
    while (toolCalls < toolCallsPerRun) {
      const id = session === 0 ? rootId : newSessionId();
      const role = session === 0 ? 'control' : 'impl';
      const calls = Math.min(toolCallsPerRun - toolCalls, 60 + Math.floor(rnd() * 80));
      const started = at();
      log.append({ type: 'session_started', session_id: id, parent_id: session === 0 ? null : rootId, root_id: rootId, role, depth: session === 0 ? 0 : 1,
        model: 'claude-sonnet-5', task_id: null, chain_id: null, started_at: started, tools: ['read_file', 'edit_file'], resumed_from: null });
      let modelSeq = 0;
      for (let seq = 1; seq <= calls; seq++) {
        if (seq % 4 === 1) {
          const input = 2000 + Math.floor(rnd() * 30000);
          const output = 50 + Math.floor(rnd() * 800);
          log.append({ type: 'model_call', session_id: id, seq: ++modelSeq, started_at: at(), duration_ms: 800 + rnd() * 9000, model: 'claude-sonnet-5',
            input_tokens: input, output_tokens: output, cache_read_tokens: Math.floor(input * 0.6), cache_write_tokens: 0, cost_usd: (input * 3 + output * 15) / 1e6,
            stop_reason: 'tool_use', retries: rnd() < 0.01 ? 1 : 0 });
        }
        const tool = pick(TOOLS);
        const r = rnd();
        const decision: ToolDecision = r < 0.93 ? 'allow' : r < 0.98 ? 'deny' : r < 0.99 ? 'invalid' : 'approved';
        const isError = decision === 'deny' || decision === 'invalid' || rnd() < 0.03;
        log.append({ type: 'tool_call', session_id: id, seq, tool, tool_use_id: `toolu_${run}_${session}_${seq}`, started_at: at(),
          duration_ms: 0.1 + rnd() * rnd() * 40, decision, rule: decision === 'deny' ? DENY_RULES[Math.floor(rnd() * DENY_RULES.length)]! : decision === 'invalid' ? 'schema' : 'reads.default',
          path: `packages/core/src/mod-${Math.floor(rnd() * 500)}.ts`, is_error: isError, error: isError ? `${tool} refused: not allowed` : null });
      }
      log.append({ type: 'session_ended', session_id: id, status: rnd() < 0.9 ? 'completed' : 'failed', ended_at: at(), duration_ms: 60_000 * rnd(),
        error: null, final_text: 'done', files_changed: ['packages/core/src/a.ts'] });
      toolCalls += calls;
      session++;
    }
    log.close();
    lines += log.lines; // with the log_closed line close() seals it with
  }
  return lines;
}

export interface MetricsResult {
  ingest_events_per_s: number;
  summary_1m_ms: number;
  events: number;
  ingest_ms: number;
  tool_calls: number;
}

function syncDir(dir: string): void {
  for (const name of readdirSync(dir)) {
    const fd = openSync(path.join(dir, name), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

export async function benchMetrics(toolCalls = 1_000_000, runs = 20, reps = 3): Promise<MetricsResult> {
  const ws = makeBenchWorkspace();
  try {
    const events = writeSyntheticLogs(ws, runs, Math.ceil(toolCalls / runs));
    // Logs are written long before they are ingested; without this the
    // kernel writes the fresh 0.5 GB back to disk during the timed ingests.
    syncDir(workspacePaths(ws).audit);
    const ingestMs: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      rmSync(workspacePaths(ws).metrics, { force: true });
      rmSync(`${workspacePaths(ws).metrics}.wal`, { force: true });
      const t0 = performance.now();
      const r = await ingestWorkspace(ws);
      ingestMs.push(performance.now() - t0);
      if (r.deferred || r.lines !== events) throw new Error(`ingest took ${r.lines} of ${events} lines${r.deferred ? ' (deferred)' : ''}`);
    }
    const summaryMs: number[] = [];
    let counted = 0;
    await withMetrics(ws, async (conn) => {
      await summarize(conn, null); // first run: DuckDB loads the tables' blocks
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        const s = await summarize(conn, null);
        summaryMs.push(performance.now() - t0);
        counted = Number(s.totals.tool_calls);
      }
    });
    if (counted < toolCalls) throw new Error(`the summary counted ${counted} tool calls, expected ${toolCalls}`);
    const ingest = median(ingestMs);
    return { ingest_events_per_s: Math.round(events / (ingest / 1000)), summary_1m_ms: median(summaryMs), events, ingest_ms: ingest, tool_calls: counted };
  } finally {
    removeBenchWorkspace(ws);
  }
}
