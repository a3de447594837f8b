// What spawn_impl_session and spawn_session share: resolve the task the child
// works on (an impl child's task is started by the delegating session, under
// its own role's rules), ask the broker for the child, and turn its report
// into the tool result the parent reads.
import { Type } from '@sinclair/typebox';
import type { Role } from '../policy/types.js';
import { ToolFailure } from '../policy/errors.js';
import type { ToolContext } from './capability.js';
import { ChainIdField, TaskIdField } from './tasks/fields.js';

/** The fields every spawn tool takes besides the role. */
export const ChildFields = {
  instructions: Type.String({ minLength: 1, maxLength: 100_000, description: 'Complete, self-contained instructions for the child session' }),
  task_id: Type.Optional(TaskIdField('A task id (CHAIN-ID/NNN-slug); its task file is given to the child')),
  chain_id: ChainIdField('The chain the task belongs to'),
};

export interface ChildRequest {
  instructions: string;
  task_id?: string;
  chain_id?: string;
}

export async function delegate(ctx: ToolContext, role: Role, input: ChildRequest): Promise<string> {
  ctx.broker.checkSpawn(role);
  let taskId = input.task_id;
  let chainId = input.chain_id;
  if (taskId) {
    const { findSessionTask, startTask } = await import('./tasks/session.js');
    const task = await findSessionTask(ctx, chainId && !taskId.includes('/') ? `${chainId}/${taskId}` : taskId);
    // Only an impl child works a task through; another role is given it to read.
    if (role === 'impl' && (task.status === 'backlog' || task.status === 'todo')) await startTask(ctx, task.id);
    taskId = task.id;
    chainId = task.chainId;
  }
  const report = await ctx.broker.spawnChild({ role, instructions: input.instructions, taskId, chainId });
  const files = report.files_changed.length ? report.files_changed.join(', ') : 'none';
  const head = `${role} session ${report.session_id} ${report.status}; files changed: ${files}; tokens: ${report.input_tokens} in / ${report.output_tokens} out`;
  if (report.status !== 'completed') {
    throw new ToolFailure(`${head}; error: ${report.error ?? 'unknown'}${report.final_text ? `; last report: ${oneLine(report.final_text)}` : ''}`);
  }
  return `${head}\n\nFinal report:\n${report.final_text || '(no text)'}`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 500 ? flat.slice(0, 500) + '…' : flat;
}
