// task_rework: send reviewed work back: in-review → in-progress, with feedback.
import { Type } from '@sinclair/typebox';
import { defineCapability } from './capability.js';
import { FeedbackField, TaskIdField } from './tasks/fields.js';
import { reworkTask } from './tasks/session.js';

export const taskRework = defineCapability({
  name: 'task_rework',
  description:
    'Send a task in review back for rework: move it from in-review to in-progress and append `feedback` to the task file ' +
    '(section "Rework feedback"), so the next impl session on the task sees what to fix. Then spawn_impl_session with its task_id again.',
  input: Type.Object(
    {
      task_id: TaskIdField(),
      feedback: FeedbackField('What must change, recorded in the task file'),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['control'],
  actions: ['read', 'move', 'create', 'modify'],
  async run(ctx, input) {
    const { task } = await reworkTask(ctx, input.task_id, input.feedback);
    const notes = input.feedback?.trim() ? ' Feedback appended.' : ' No feedback given.';
    return `Task ${task.id} sent back for rework: in-review → in-progress (${task.rel}).${notes} Next: spawn_impl_session with task_id "${task.id}".`;
  },
});
