// task_start: move a task from backlog or todo to in-progress.
import { Type } from '@sinclair/typebox';
import { defineCapability } from './capability.js';
import { TaskIdField } from './tasks/fields.js';
import { startTask } from './tasks/session.js';

export const taskStart = defineCapability({
  name: 'task_start',
  description:
    'Start a task: move it from backlog or todo to in-progress (its file moves to docs/tasks/in-progress/). ' +
    'Then hand an impl task to spawn_impl_session with its task_id, or do a control task yourself.',
  input: Type.Object(
    { task_id: TaskIdField() },
    { additionalProperties: false },
  ),
  defaultRoles: ['control'],
  actions: ['read', 'move', 'create'],
  async run(ctx, input) {
    const { task, from } = await startTask(ctx, input.task_id);
    const next = task.type === 'impl' ? ` Next: spawn_impl_session with task_id "${task.id}".` : '';
    return `Task ${task.id} moved from ${from} to in-progress (${task.rel}).${next}`;
  },
});
