// spawn_impl_session: start a child impl session. The broker starts it in a
// new worker with grants no larger than this session's, enforces depth and
// parallel limits, and returns the child's report when it ends.
import { Type } from '@sinclair/typebox';
import { defineCapability } from './capability.js';
import { ChainIdField, TaskIdField } from './tasks/fields.js';
import { ToolFailure } from '../policy/errors.js';

export const spawnImplSession = defineCapability({
  name: 'spawn_impl_session',
  description:
    'Start an impl session (a separate agent) that carries out `instructions` and reports back. It sees only the instructions ' +
    '(plus the task file when task_id is given), not this conversation, so make them complete. Several calls in one message ' +
    'run in parallel. Returns the child\'s status, files changed, token use and final report.',
  input: Type.Object(
    {
      instructions: Type.String({ minLength: 1, maxLength: 100_000, description: 'Complete, self-contained instructions for the impl session' }),
      task_id: Type.Optional(TaskIdField('A task id (CHAIN-ID/NNN-slug); its task file is given to the child')),
      chain_id: ChainIdField('The chain the task belongs to'),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['control'],
  actions: ['read'], // the spawn itself is governed by the policy's limits, not by path rules
  async run(ctx, input) {
    let taskId = input.task_id;
    let chainId = input.chain_id;
    if (taskId) {
      // The task is started by the delegating session, under its own role's rules.
      const { findSessionTask, startTask } = await import('./tasks/session.js');
      const task = await findSessionTask(ctx, chainId && !taskId.includes('/') ? `${chainId}/${taskId}` : taskId);
      if (task.status === 'backlog' || task.status === 'todo') await startTask(ctx, task.id);
      taskId = task.id;
      chainId = task.chainId;
    }
    const report = await ctx.broker.spawnChild({ instructions: input.instructions, taskId, chainId });
    const files = report.files_changed.length ? report.files_changed.join(', ') : 'none';
    const head = `impl session ${report.session_id} ${report.status}; files changed: ${files}; tokens: ${report.input_tokens} in / ${report.output_tokens} out`;
    if (report.status !== 'completed') {
      throw new ToolFailure(`${head}; error: ${report.error ?? 'unknown'}${report.final_text ? `; last report: ${oneLine(report.final_text)}` : ''}`);
    }
    return `${head}\n\nFinal report:\n${report.final_text || '(no text)'}`;
  },
});

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 500 ? flat.slice(0, 500) + '…' : flat;
}
