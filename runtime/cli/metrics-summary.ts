// `choragen metrics:summary`: sessions by role and status, tokens, cost, top
// tools, denials by rule and the slowest tool calls.
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace } from '../paths.js';

export class MetricsSummaryCommand extends ChoragenCommand {
  static override paths = [['metrics:summary']];
  static override usage = Command.Usage({
    category: 'Metrics & audit',
    description: 'Summarize sessions, tokens, cost, tools and denials',
    details: `
      Ingests the audit logs, then shows: sessions by role and status with their
      tokens and cost; tokens (in, out, cache read, cache write) and cost by role
      and by the model and provider its sessions ran on; totals (with the cache hit rate: the share of prompt tokens
      read from the prompt cache, and the number of context-window compactions); the most used tools with error counts
      and p50/p95 latency (approximate: a t-digest); denied, rejected and invalid tool calls by rule; run_command calls
      per role (exit 0, another exit code, refused, stopped or not started); the slowest tool calls. \`--since\` keeps
      what started within a duration (30m, 12h, 7d, 2w)
      or at or after an ISO date. \`--json\` prints one JSON object.
    `,
    examples: [
      ['Everything recorded', '$0 metrics:summary'],
      ['The last 24 hours', '$0 metrics:summary --since 24h'],
      ['Since a date, as JSON', '$0 metrics:summary --since 2025-01-31 --json'],
    ],
  });

  since = Option.String('--since', { description: 'A duration back from now (30m, 12h, 7d) or an ISO date' });
  json = Option.Boolean('--json', false, { description: 'Print one JSON object' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const workspace = resolveWorkspace(this.workspace);
    const fmt = await import('../metrics/format.js');
    const since = this.since !== undefined ? fmt.parseSince(this.since) : null;
    const { withMetrics } = await import('../metrics/store.js');
    const { summarize } = await import('../metrics/report.js');
    const summary = await withMetrics(workspace, (conn) => summarize(conn, since), { note: this.note });
    if (!summary) return 1;
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify(summary)}\n`);
      return 0;
    }
    const t = summary.totals;
    const out: string[] = [];
    out.push(`Sessions${summary.since ? ` since ${summary.since}` : ''}: ${fmt.count(t.sessions)}  ` +
      `tokens: ${fmt.count(t.input_tokens)} in / ${fmt.count(t.output_tokens)} out / ${fmt.count(t.cache_read_tokens)} cache read / ${fmt.count(t.cache_write_tokens)} cache write` +
      `${t.cache_hit_rate == null ? '' : ` (cache hit rate ${(Number(t.cache_hit_rate) * 100).toFixed(1)}%)`}  ` +
      `${Number(t.compactions) ? `compactions: ${fmt.count(t.compactions)}  ` : ''}` +
      `cost: ${fmt.usd(t.cost_usd)}  model calls: ${fmt.count(t.model_calls)}  tool calls: ${fmt.count(t.tool_calls)}`);
    const section = (title: string, rows: Record<string, unknown>[], cols: string[], show: (r: Record<string, unknown>) => Record<string, unknown> = (r) => r) => {
      out.push('', `${title}:`);
      out.push(rows.length ? fmt.formatTable(cols, rows.map(show)).trimEnd() : '  (none)');
    };
    section('By role and status', summary.sessions, ['role', 'status', 'sessions', 'tokens', 'cost'], (r) => ({ ...r, cost: fmt.usd(r.cost_usd) }));
    section('By role and model', summary.models, ['role', 'model', 'provider', 'sessions', 'in', 'out', 'cache_read', 'cache_write', 'cost'], (r) => ({
      ...r, in: r.input_tokens, out: r.output_tokens, cache_read: r.cache_read_tokens, cache_write: r.cache_write_tokens, cost: fmt.usd(r.cost_usd),
    }));
    section('Top tools', summary.top_tools, ['tool', 'calls', 'errors', 'p50', 'p95'], (r) => ({ ...r, p50: fmt.ms(r.p50_ms), p95: fmt.ms(r.p95_ms) }));
    section('Denials by rule', summary.denials, ['rule', 'decision', 'calls']);
    section('Commands by role (run_command)', summary.commands, ['role', 'commands', 'passed', 'failed', 'refused', 'not_finished']);
    section('Slowest tool calls', summary.slowest_tool_calls, ['session_id', 'seq', 'tool', 'path', 'decision', 'duration'], (r) => ({ ...r, duration: fmt.ms(r.duration_ms) }));
    this.context.stdout.write(`${out.join('\n')}\n`);
    return 0;
  }
}
