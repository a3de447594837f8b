// Line diffs of model-written files (git_diff, the approval preview) run on an
// offload worker (pool.ts): a file shaped against the diff costs the broker's
// thread nothing, and a diff past its deadline is reported as not shown.
import { previewOptions, previewText, type UnifiedDiffOptions } from '../fs/diff.js';
import { ToolFailure } from '../../policy/errors.js';
import { Lease, OffloadTimeout } from './pool.js';

/** A diff taking longer than this is not shown (a note says so). */
export const DIFF_DEADLINE_MS = 2000;

/** unifiedDiff(oldText, newText, options) off the broker's thread; null when it ran past the deadline. */
export async function diffOffThread(oldText: string, newText: string, options: UnifiedDiffOptions, signal?: AbortSignal): Promise<string | null> {
  let lease: Lease | undefined;
  try {
    lease = await Lease.open(Date.now() + DIFF_DEADLINE_MS, signal);
    const { text } = await lease.ask({ kind: 'diff', oldText, newText, options }, DIFF_DEADLINE_MS);
    lease.close();
    return text ?? '';
  } catch (err) {
    lease?.kill();
    if (err instanceof OffloadTimeout) return null;
    throw err;
  }
}

/**
 * The preview a human approves (fs/diff.ts filePreview), off the broker's
 * thread. Past the deadline the new content is shown whole instead; failing
 * that it throws: a change that cannot be shown is never put to a human (the
 * approver answers no).
 */
export async function previewOffThread(rel: string, before: string | null, after: string): Promise<string> {
  const diff = await diffOffThread(before ?? '', after, previewOptions(rel, before));
  if (diff !== null) return previewText(rel, diff);
  const whole = await diffOffThread('', after, previewOptions(rel, null));
  const why = `the diff against the current content took over ${DIFF_DEADLINE_MS / 1000} s`;
  if (whole === null) throw new ToolFailure(`${why}, and so did the new content`);
  return `${rel}: ${why}; the new content:\n${previewText(rel, whole)}`;
}
