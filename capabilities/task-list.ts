// task_list: every task (or one chain's tasks) with its id and status.
import { Type } from '@sinclair/typebox';
import { defineCapability } from './capability.js';
import { ChainIdField } from './tasks/fields.js';
import { taskStoreFor } from './tasks/store.js';
import { capToolText, formatTaskList } from './tasks/views.js';

export const taskList = defineCapability({
  name: 'task_list',
  description:
    'List tasks, one per line: task id (CHAIN-ID/NNN-slug, what task_* tools and spawn_impl_session take), status, title. ' +
    'With chain_id, only that chain\'s tasks. Read a task with read_file on docs/tasks/<status>/<task id>.md.',
  input: Type.Object(
    {
      chain_id: ChainIdField(),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['control', 'impl'],
  actions: ['read'],
  async run(ctx, input) {
    const tasks = await taskStoreFor(ctx).listTasks(input.chain_id);
    return capToolText(formatTaskList(tasks), ctx.limits.outputBytes, 'give chain_id to see one chain');
  },
});
