// `choragen chain:new TITLE`: create a task chain (docs/tasks/.chains/<id>.json
// and its backlog folder) and print its id.
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace } from '../paths.js';


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
    const workspace = resolveWorkspace(this.workspace);
    const { openTaskStore } = await import('../../capabilities/tasks/store.js');
    const chain = await openTaskStore(workspace).createChain(this.title.join(' '), this.description);
    this.context.stdout.write(`${chain.id}\n`);
    return 0;
  }
}

