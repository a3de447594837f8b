// `choragen task:add CHAIN-ID TITLE`: add a task file to a chain and print its id.
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace } from '../paths.js';
import { UsageError } from '../../policy/errors.js';

const STATUSES = ['backlog', 'todo'] as const;
const TYPES = ['impl', 'control'] as const;

export class TaskAddCommand extends ChoragenCommand {
  static override paths = [['task:add']];
  static override usage = Command.Usage({
    category: 'Tasks',
    description: 'Add a task to a chain and print its id',
    details: `
      Writes \`docs/tasks/<status>/<CHAIN-ID>/<NNN-slug>.md\` with choragen's header
      (**Chain**, **Task**, **Status**, **Type**, **Created**) and the sections
      Objective, Expected Files and Acceptance Criteria. New tasks go to \`backlog\`
      unless \`--status todo\` is given.

      \`--body FILE\` supplies the markdown: with \`## \` headings it becomes the
      sections as written; otherwise it is the Objective.
    `,
    examples: [
      ['Add a task', '$0 task:add CHAIN-001-add-login "Create the login form"'],
      ['Ready to start, with a body', '$0 task:add CHAIN-001-add-login "Session store" --body notes/session.md --status todo'],
      ['A task for the control session itself', '$0 task:add CHAIN-001-add-login "Review and close" --type control'],
    ],
  });

  workspace = workspaceOption();
  body = Option.String('--body', { description: 'Markdown file with the task body' });
  status = Option.String('--status', 'backlog', { description: 'backlog (default) or todo' });
  type = Option.String('--type', 'impl', { description: 'impl (default: done by an impl session) or control' });
  chainId = Option.String({ name: 'CHAIN-ID' });
  title = Option.Rest({ name: 'TITLE', required: 1 });

  async run(): Promise<number> {
    if (!(STATUSES as readonly string[]).includes(this.status)) {
      throw new UsageError(`--status must be backlog or todo, not "${this.status}"`);
    }
    if (!(TYPES as readonly string[]).includes(this.type)) {
      throw new UsageError(`--type must be impl or control, not "${this.type}"`);
    }
    const dir = resolveWorkspace(this.workspace);
    let body: string | undefined;
    if (this.body !== undefined) {
      body = await readFile(path.resolve(this.body), 'utf8').catch(() => {
        throw new UsageError(`cannot read --body file: ${this.body}`);
      });
    }
    const { openTaskStore } = await import('../../capabilities/tasks/store.js');
    const task = await openTaskStore(dir).addTask(this.chainId, this.title.join(' '), {
      body,
      status: this.status as (typeof STATUSES)[number],
      type: this.type as (typeof TYPES)[number],
    });
    this.context.stdout.write(`${task.id}\n`);
    return 0;
  }
}
