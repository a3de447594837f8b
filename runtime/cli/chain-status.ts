// `choragen chain:status [CHAIN-ID]`: every task of one chain (or all chains)
// with its status, the last session that completed it and its tokens.
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace } from '../paths.js';


export class ChainStatusCommand extends ChoragenCommand {
  static override paths = [['chain:status']];
  static override usage = Command.Usage({
    category: 'Tasks',
    description: 'Show the tasks of a chain (or of all chains) and where they stand',
    details: `
      One table per chain: TASK, STATUS, LAST SESSION (the session whose completion
      summary is recorded last in the task file) and TOKENS ("-" when unknown).
      \`--json\` prints one JSON array of rows
      \`{"chain","task","title","status","last_session","tokens"}\`.
    `,
    examples: [
      ['All chains', '$0 chain:status'],
      ['One chain', '$0 chain:status CHAIN-001-add-login'],
      ['For scripts', '$0 chain:status CHAIN-001-add-login --json'],
    ],
  });

  workspace = workspaceOption();
  json = Option.Boolean('--json', false, { description: 'Print the rows as a JSON array' });
  chainId = Option.String({ name: 'CHAIN-ID', required: false });

  async run(): Promise<number> {
    const dir = resolveWorkspace(this.workspace);
    const { openTaskStore } = await import('../../capabilities/tasks/store.js');
    const { chainTableRows, formatChainStatusTable } = await import('../../capabilities/tasks/views.js');
    const summaries = await openTaskStore(dir).chainStatus(this.chainId);
    const options = { tokensByTask: await tokensByTask(dir) };
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify(chainTableRows(summaries, options))}\n`);
      return 0;
    }
    // Titles come from the task files: shown through the terminal sanitizer.
    const { termText } = await import('../terminal/text.js');
    this.context.stdout.write(termText(formatChainStatusTable(summaries, options)));
    return 0;
  }
}

/** Tokens spent per task, from the metrics the broker recorded (empty when there are none yet). */
async function tokensByTask(workspace: string): Promise<Map<string, number>> {
  const [{ queryMetrics }, { ALL_TOKENS }] = await Promise.all([import('../metrics/store.js'), import('../metrics/report.js')]);
  const result = await queryMetrics(workspace,
    `SELECT task_id, sum(${ALL_TOKENS}) AS tokens FROM sessions WHERE task_id IS NOT NULL GROUP BY task_id`);
  return new Map(result.rows.map((r) => [String(r.task_id), Number(r.tokens)]));
}
