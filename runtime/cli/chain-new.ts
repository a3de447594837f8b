// `choragen chain:new TITLE`: create a task chain (docs/tasks/.chains/<id>.json
// and its backlog folder) and print its id.
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { ToolFailure, UsageError } from '../errors.js';

export class ChainNewCommand extends ChoragenCommand {
  static override paths = [['chain:new']];
  static override usage = Command.Usage({
    category: 'Tasks',
    description: 'Create a task chain and print its id',
    details: `
      The id is \`CHAIN-<NNN>-<slug>\`: the next sequence number and a slug of the title.
      Its metadata goes to \`docs/tasks/.chains/<id>.json\`; add tasks with \`task:add\`.
    `,
    examples: [
      ['Create a chain', '$0 chain:new "Add login"'],
      ['In another workspace', '$0 chain:new Add login page --workspace ../app'],
    ],
  });

  workspace = workspaceOption();
  description = Option.String('--description', '', { description: 'A longer description stored in the chain metadata' });
  title = Option.Rest({ name: 'TITLE', required: 1 });

  async run(): Promise<number> {
    const workspace = await existingWorkspace(this.workspace);
    const { openTaskStore } = await import('../tasks.js');
    try {
      const chain = await openTaskStore(workspace).createChain(this.title.join(' '), this.description);
      this.context.stdout.write(`${chain.id}\n`);
    } catch (err) {
      throw err instanceof ToolFailure ? new UsageError(err.message) : err;
    }
    return 0;
  }
}

async function existingWorkspace(option: string | undefined): Promise<string> {
  const dir = path.resolve(option ?? process.cwd());
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new UsageError(`workspace not found: ${option ?? dir}`);
  return dir;
}
