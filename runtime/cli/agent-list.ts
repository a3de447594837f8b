// `choragen agent:list`: the most recent sessions.
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace } from '../paths.js';
import { UsageError } from '../../policy/errors.js';

export class AgentListCommand extends ChoragenCommand {
  static override paths = [['agent:list']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'List recent sessions',
    details: `
      Shows the most recent sessions, newest first: id, role, model (and its
      provider), parent, status
      (running, completed, failed, interrupted, budget_exceeded; "resumed by ID"
      when agent:resume carried the session on in another), age, tokens (the
      prompt, read from the cache or not, and the output: what --max-tokens
      counts) and the first line of the session's instructions (from its
      transcript; "-" once agent:cleanup has removed it), then how many are not
      shown. Reads the metrics tables after ingesting the audit logs.
      \`--json\` prints an array of session objects.
    `,
    examples: [
      ['The last 20 sessions', '$0 agent:list'],
      ['The last 100, as JSON', '$0 agent:list --limit 100 --json'],
    ],
  });

  limit = Option.String('--limit', '20', { description: 'How many sessions (default 20)' });
  json = Option.Boolean('--json', false, { description: 'Print a JSON array' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const limit = Number(this.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: expected a positive whole number, got "${this.limit}"`);
    const workspace = resolveWorkspace(this.workspace);
    const { withMetrics } = await import('../metrics/store.js');
    const { countSessions, listSessions } = await import('../metrics/report.js');
    const found = await withMetrics(workspace, async (conn) => ({ rows: await listSessions(conn, limit), total: await countSessions(conn) }), { note: this.note });
    if (!found) return 1;
    const { rows, total } = found;
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify(rows)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      this.context.stdout.write('no sessions recorded yet\n');
      return 0;
    }
    const { age, formatTable, modelWithProvider } = await import('../metrics/format.js');
    const { firstInstructionLine } = await import('../sessions/instructions.js');
    const { fitWidth } = await import('../terminal/width.js');
    const { termLine } = await import('../terminal/text.js');
    const now = Date.now();
    const shown = rows.map((r) => ({
      id: r.session_id,
      role: r.role ?? '?',
      model: modelWithProvider(r.model, r.provider),
      parent: r.parent_id ?? '-',
      status: r.resumed_by ? `${r.status}, resumed by ${r.resumed_by}` : r.status,
      age: age(r.started_at, now),
      tokens: r.tokens,
      instructions: fitWidth(termLine(firstInstructionLine(workspace, String(r.session_id)) ?? '-'), 60),
    }));
    this.context.stdout.write(formatTable(['id', 'role', 'model', 'parent', 'status', 'age', 'tokens', 'instructions'], shown));
    const hidden = total - rows.length;
    this.context.stdout.write(hidden > 0
      ? `${rows.length} of ${total} sessions, newest first; ${hidden} more not shown (--limit ${total} shows all)\n`
      : `${total} session${total === 1 ? '' : 's'}\n`);
    return 0;
  }
}
