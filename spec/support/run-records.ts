// What an end-to-end run left for a spec to check: the tool results the model
// was sent (from the requests a fake server saw), the run's audit logs, and
// the metrics tables.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from './cli.js';
import type { RecordedRequest } from './fake-http.js';

/**
 * The tool results the sessions got back, by tool_use id, as sent: Anthropic's
 * `tool_result` blocks (`{tool_use_id, content, is_error?}`), or OpenAI's
 * `tool` messages as `{tool_use_id, content}` (an error's content starts with
 * "Error: ", the wire having no flag).
 */
export function resultsOf(server: { requests: readonly RecordedRequest[] }): Map<string, any> {
  const out = new Map<string, any>();
  for (const q of server.requests) {
    for (const m of q.body?.messages ?? []) {
      if (m.role === 'tool') out.set(m.tool_call_id, { tool_use_id: m.tool_call_id, content: m.content });
      if (m.role !== 'user' || !Array.isArray(m.content)) continue;
      for (const b of m.content) if (b.type === 'tool_result') out.set(b.tool_use_id, b);
    }
  }
  return out;
}

/** Every audit log of the workspace, as one text. */
export function auditText(ws: string): string {
  const dir = path.join(ws, '.choragen', 'audit');
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(path.join(dir, f), 'utf8')).join('');
}

/** The rows of a metrics query (`metrics:query SQL --format json`), which must succeed. */
export async function metricsRows(ws: string, sql: string): Promise<any[]> {
  const r = await runCli(['metrics:query', sql, '--format', 'json', '-w', ws]);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as any[];
}
