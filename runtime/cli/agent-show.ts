// `choragen agent:show ID`: one session: its row, its children, its tool
// calls and its final output.
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace } from '../paths.js';
import { UsageError } from '../../policy/errors.js';

export class AgentShowCommand extends ChoragenCommand {
  static override paths = [['agent:show']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Show one session: status, tokens, children, tool calls and final output',
    details: `
      ID is a session id or a unique prefix of one (see agent:list). Shows the
      session's metrics row, the sessions it spawned, each tool call with its
      decision, rule and path, the commands it ran (run_command) with their exit
      codes, and the session's final text. A session that
      agent:resume carried on names the session that resumed it (resumed by),
      and a resumed one the session it continues (resumed from). An unknown id
      exits with 2. \`--json\` prints {session, children, tool_calls, model_calls}.
    `,
    examples: [
      ['Show a session', '$0 agent:show mx3b7k2q4e9f1c'],
      ['As JSON', '$0 agent:show mx3b7k2q4e9f1c --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print one JSON object' });
  workspace = workspaceOption();
  id = Option.String({ name: 'ID' });

  async run(): Promise<number> {
    const workspace = resolveWorkspace(this.workspace);
    const { withMetrics } = await import('../metrics/store.js');
    const { sessionDetail } = await import('../metrics/report.js');
    const detail = await withMetrics(workspace, (conn) => sessionDetail(conn, this.id), { note: this.note });
    if (detail === null) throw new UsageError(`unknown session id: ${this.id} (see agent:list)`);
    if ('ambiguous' in detail) throw new UsageError(`session id prefix ${this.id} is ambiguous: ${detail.ambiguous.join(', ')}`);
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify(detail)}\n`);
      return 0;
    }
    const fmt = await import('../metrics/format.js');
    const { termLine, termText } = await import('../terminal/text.js');
    // Everything below was recorded from a model, a file or a file name: shown through the terminal sanitizer.
    const v = (x: unknown) => (x === null || x === undefined || x === '' ? '-' : termLine(x));
    const s = detail.session;
    const out: string[] = [];
    out.push(`session ${v(s.session_id)}  ${v(s.role)}  ${v(s.status)}${s.error ? `: ${termLine(s.error)}` : ''}`);
    out.push(`  parent: ${v(s.parent_id)}  root: ${v(s.root_id)}  depth: ${v(s.depth)}  model: ${v(fmt.modelWithProvider(s.model, s.provider))}`);
    if (s.task_id || s.chain_id) out.push(`  task: ${v(s.task_id)}  chain: ${v(s.chain_id)}`);
    if (s.resumed_from || s.resumed_by) out.push(`  resumed from: ${v(s.resumed_from)}  resumed by: ${v(s.resumed_by)}`);
    out.push(`  started: ${v(s.started_at)}  ended: ${v(s.ended_at)}  duration: ${fmt.ms(s.duration_ms)}`);
    out.push(
      `  tokens: ${fmt.count(s.input_tokens)} in / ${fmt.count(s.output_tokens)} out / ${fmt.count(s.cache_read_tokens)} cache read / ` +
        `${fmt.count(s.cache_write_tokens)} cache write  cost: ${fmt.usd(s.cost_usd)}  model calls: ${fmt.count(s.model_calls)}  tool calls: ${fmt.count(s.tool_calls)}`,
    );
    if (Array.isArray(s.files_changed) && s.files_changed.length) out.push(`  files changed: ${s.files_changed.map(termLine).join(', ')}`);
    out.push('', 'Children:');
    const children = detail.children.map((c) => ({ ...c, model: fmt.modelWithProvider(c.model, c.provider) }));
    out.push(children.length ? fmt.formatTable(['session_id', 'role', 'model', 'status', 'tokens', 'task_id'], children).trimEnd() : '  (none)');
    out.push('', 'Tool calls:');
    out.push(
      detail.tool_calls.length
        ? fmt.formatTable(['seq', 'tool', 'decision', 'rule', 'path', 'is_error', 'duration_ms'], detail.tool_calls).trimEnd()
        : '  (none)',
    );
    const commands = detail.tool_calls.filter((c) => c.tool === 'run_command');
    if (commands.length > 0) {
      out.push('', 'Commands:');
      out.push(fmt.formatTable(['seq', 'exit_code', 'decision', 'command'], commands.map((c) => ({ ...c, exit_code: c.exit_code ?? '-' }))).trimEnd());
    }
    out.push('', 'Final output:');
    out.push(typeof s.final_text === 'string' && s.final_text !== '' ? termText(s.final_text) : '  (none)');
    this.context.stdout.write(`${out.join('\n')}\n`);
    return 0;
  }
}
