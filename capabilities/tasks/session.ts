// Task operations on behalf of a session (the task tools and complete_task),
// and the task text the broker puts in a session's first message. Moves go
// through the session's ToolContext, so the policy governs them exactly as it
// governs move_file.
import type { ToolContext } from '../capability.js';
import { ToolFailure } from '../../policy/errors.js';
import { COMPLETION_SUMMARY, REVIEW_NOTES, REWORK_FEEDBACK, type TaskRecord, type TaskStatus } from './model.js';
import { type MoveResult, openTaskStore, taskStoreFor } from './store.js';
import { formatChainStatus, formatTaskForChild } from './views.js';

/**
 * A short task reference (`NNN-slug`) is looked up in the session's chain
 * first, then across all chains.
 */
export async function findSessionTask(ctx: ToolContext, ref: string): Promise<TaskRecord> {
  const store = taskStoreFor(ctx);
  const chain = ctx.session.chainId;
  if (!chain || ref.includes('/')) return store.findTask(ref);
  try {
    return await store.findTask(ref, chain);
  } catch (err) {
    if (err instanceof ToolFailure) return store.findTask(ref);
    throw err;
  }
}

async function moveForSession(
  ctx: ToolContext,
  ref: string,
  to: TaskStatus,
  append?: { heading: string; body: string },
): Promise<MoveResult> {
  const task = await findSessionTask(ctx, ref);
  return taskStoreFor(ctx).moveTask(task.id, to, { append: append && { ...append, session: ctx.session.id } });
}

/** task_start: backlog or todo → in-progress. */
export const startTask = (ctx: ToolContext, ref: string) => moveForSession(ctx, ref, 'in-progress');

/** task_approve: in-review → done, with optional review notes. */
export const approveTask = (ctx: ToolContext, ref: string, notes?: string) =>
  moveForSession(ctx, ref, 'done', notes?.trim() ? { heading: REVIEW_NOTES, body: notes } : undefined);

/** task_rework: in-review → in-progress, with the feedback appended. */
export const reworkTask = (ctx: ToolContext, ref: string, feedback?: string) =>
  moveForSession(ctx, ref, 'in-progress', feedback?.trim() ? { heading: REWORK_FEEDBACK, body: feedback } : undefined);

/**
 * An impl session working on a task called complete_task: append its summary
 * (section "Completion summary", with the session id) and move the task
 * in-progress → in-review, through the session's authorize/mutate.
 */
export async function submitForReview(ctx: ToolContext, taskRef: string, summary: string): Promise<MoveResult> {
  return moveForSession(ctx, taskRef, 'in-review', { heading: COMPLETION_SUMMARY, body: summary });
}

// --- context text for sessions (broker-side, plain fs) ---------------------------

/** The text a child's first message carries for `spawn_impl_session` with a task_id. */
export async function taskContextForChild(workspace: string, ref: string, chainId?: string | null): Promise<string> {
  const store = openTaskStore(workspace);
  const task = await store.findTask(ref, chainId);
  const chain = await store.readChain(task.chainId);
  return formatTaskForChild(task, chain.title);
}

/** Chain status text for `agent:start --role control --chain`. */
export async function chainContextForControl(workspace: string, chainId: string): Promise<string> {
  const [summary] = await openTaskStore(workspace).chainStatus(chainId);
  return formatChainStatus([summary!], { forControl: true });
}
