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
      Shows the most recent sessions, newest first: id, role, parent, status
      (running, completed, failed, interrupted, budget_exceeded; "resumed by ID"
      when agent:resume carried the session on in another), age and tokens
      (input + output). Reads the metrics tables after ingesting the audit logs.
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
    const { listSessions } = await import('../metrics/report.js');
    const rows = await withMetrics(workspace, (conn) => listSessions(conn, limit), { note: this.note });
    if (!rows) return 1;
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify(rows)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      this.context.stdout.write('no sessions recorded yet\n');
      return 0;
    }
    const { age, formatTable } = await import('../metrics/format.js');
    const now = Date.now();
    const shown = rows.map((r) => ({
      id: r.session_id,
      role: r.role ?? '?',
      parent: r.parent_id ?? '-',
      status: r.resumed_by ? `${r.status}, resumed by ${r.resumed_by}` : r.status,
      age: age(r.started_at, now),
      tokens: r.tokens,
    }));
    this.context.stdout.write(formatTable(['id', 'role', 'parent', 'status', 'age', 'tokens'], shown));
    return 0;
  }
}
