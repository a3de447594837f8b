// complete_task: end this session with a summary. For an impl session working
// on a task, the task moves to in-review with the summary appended (governed
// by the same policy as any other move).
import { Type } from '@sinclair/typebox';
import { defineCapability } from './capability.js';
import { ToolFailure, ToolRefusal } from '../policy/errors.js';

export const completeTask = defineCapability({
  name: 'complete_task',
  description:
    'Finish this session. `summary` is your final report (what changed, how it was checked, what is left). ' +
    'If you were given a task, it moves to in-review with this summary. Call it once, as the last thing you do.',
  input: Type.Object(
    { summary: Type.String({ minLength: 1, maxLength: 50_000, description: 'Final report of the session' }) },
    { additionalProperties: false },
  ),
  defaultRoles: ['control', 'impl'],
  actions: ['read', 'move', 'create', 'modify'],
  async run(ctx, input) {
    let note = '';
    if (ctx.session.taskId && ctx.session.role === 'impl') {
      const { submitForReview } = await import('./tasks/session.js');
      try {
        await submitForReview(ctx, ctx.session.taskId, input.summary);
        note = ` Task ${ctx.session.taskId} moved to in-review.`;
      } catch (err) {
        // The session's work is done either way; the task stays where it is
        // and the reason is in the result, the audit line and the parent's report.
        if (!(err instanceof ToolRefusal || err instanceof ToolFailure)) throw err;
        note = ` Task ${ctx.session.taskId} was not moved to in-review: ${err.message}`;
      }
    }
    return { content: `Session complete.${note}`, endsSession: true, finalText: note ? `${input.summary}\n\n(${note.trim()})` : input.summary };
  },
});
