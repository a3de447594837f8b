// task_approve: accept reviewed work: in-review → done.
import { Type } from '@sinclair/typebox';
import { defineCapability } from './capability.js';
import { FeedbackField, TaskIdField } from './tasks/fields.js';
import { approveTask } from './tasks/session.js';

export const taskApprove = defineCapability({
  name: 'task_approve',
  description:
    'Approve a task in review: move it from in-review to done. Optional feedback is appended to the task file as "Review notes". ' +
    'Only tasks in in-review can be approved; use task_rework to send one back instead.',
  input: Type.Object(
    {
      task_id: TaskIdField(),
      feedback: FeedbackField('Review notes to record in the task file'),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['control'],
  actions: ['read', 'move', 'create'],
  async run(ctx, input) {
    const { task } = await approveTask(ctx, input.task_id, input.feedback);
    const notes = input.feedback?.trim() ? ' Review notes appended.' : '';
    return `Task ${task.id} approved: in-review → done (${task.rel}).${notes}`;
  },
});
