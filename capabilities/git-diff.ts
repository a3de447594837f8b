// git_diff: unified diff of the working tree against HEAD, computed with
// isomorphic-git (no git binary). New files (untracked ones too) are shown
// whole, as a session's new files are part of its work.

import { defineCapability } from './capability.js';
import { unifiedDiff } from './fs/diff.js';
import { DIFF_DEADLINE_MS, diffOffThread } from './offload/diff.js';
import { OutputBudget, cutLine, displayPath, plural, withNotes } from './fs/output.js';
import { CHANGED_FILES_INPUT, changedFiles, type ChangedFile } from './git-status.js';

/** Larger files are named, not diffed. */
const MAX_DIFF_FILE_BYTES = 1024 * 1024;
const BINARY_SAMPLE = 8000;

type Side =
  | { kind: 'absent' }
  | { kind: 'text'; text: string }
  | { kind: 'binary' }
  | { kind: 'large'; bytes: number }
  | { kind: 'symlink' }
  | { kind: 'unread'; reason: string };

function sideOf(bytes: Uint8Array): Side {
  if (bytes.length > MAX_DIFF_FILE_BYTES) return { kind: 'large', bytes: bytes.length };
  if (bytes.subarray(0, BINARY_SAMPLE).includes(0)) return { kind: 'binary' };
  return { kind: 'text', text: Buffer.from(bytes).toString('utf8') };
}

/** A file's diff before its body: the header, and either the finished diff or the two texts to diff. */
function frame(rel: string, before: Side, after: Side) {
  // A name with a control character is quoted whole, prefix included, as git does.
  const label = (prefix: string) => (displayPath(rel) === rel ? `${prefix}${rel}` : JSON.stringify(`${prefix}${rel}`));
  const header = [`diff --git ${label('a/')} ${label('b/')}`];
  if (before.kind === 'absent') header.push('new file');
  if (after.kind === 'absent') header.push('deleted file');
  const oldLabel = before.kind === 'absent' ? '/dev/null' : label('a/');
  const newLabel = after.kind === 'absent' ? '/dev/null' : label('b/');
  for (const side of [before, after]) {
    if (side.kind === 'binary') return { done: [...header, `Binary files ${oldLabel} and ${newLabel} differ`] };
    if (side.kind === 'large') return { done: [...header, `(not diffed: ${side.bytes} bytes is over the ${MAX_DIFF_FILE_BYTES}-byte diff limit)`] };
    if (side.kind === 'symlink') return { done: [...header, 'symlink (its target is not shown)'] };
    if (side.kind === 'unread') return { done: [...header, `(not shown: ${side.reason})`] };
  }
  const oldText = before.kind === 'text' ? before.text : '';
  const newText = after.kind === 'text' ? after.text : '';
  // An empty file created or deleted has no body, but is a change.
  const finish = (body: string) => (body ? [...header, ...body.split('\n')] : before.kind === after.kind ? [] : header);
  return { oldText, newText, labels: { oldLabel, newLabel }, header, finish };
}

/**
 * The diff of one file, as lines (header included). Empty when the texts are
 * equal. `maxLines` bounds the rendering (the caller cannot show more anyway).
 */
export function fileDiff(rel: string, before: Side, after: Side, context = 3, maxLines?: number): string[] {
  const f = frame(rel, before, after);
  if (f.done) return f.done;
  return f.finish(unifiedDiff(f.oldText, f.newText, { ...f.labels, context, maxLines }));
}

/** fileDiff off the broker's thread (offload/diff.ts): a diff shaped to be slow is named, not shown. */
async function fileDiffOffThread(rel: string, before: Side, after: Side, maxLines: number, signal: AbortSignal): Promise<string[]> {
  const f = frame(rel, before, after);
  if (f.done) return f.done;
  const body = await diffOffThread(f.oldText, f.newText, { ...f.labels, context: 3, maxLines }, signal);
  if (body === null) return [...f.header, `(not diffed: the diff took over ${DIFF_DEADLINE_MS / 1000} s)`];
  return f.finish(body);
}

export const gitDiff = defineCapability({
  name: 'git_diff',
  description:
    'Show a unified diff of the workspace\'s working tree against HEAD (the last commit), including new and untracked files. ' +
    'With path, only files under that path. Files you may not read are left out; binary and very large files are named only. ' +
    'Long output is cut with a note; narrow it with path.',
  input: CHANGED_FILES_INPUT,
  defaultRoles: ['control', 'impl'],
  actions: ['read'],
  async run(ctx, input) {
    const { repo, files, workspace, fs } = await changedFiles(ctx, input.path);
    const [{ default: git }, repoTools, authority, { ToolFailure, ToolRefusal }] = await Promise.all([
      import('isomorphic-git'),
      import('./git/repo.js'),
      import('./fs/authority.js'),
      import('../policy/errors.js'),
    ]);
    const head = await repoTools.headCommit(repo);
    const headEntry = head === null ? null : repoTools.headEntries(repo, head);
    const cache = {};

    // A committed symlink is a symlink: its target (maybe a host path) is not shown.
    const headSide = async (f: ChangedFile): Promise<Side> => {
      if (f.head === 0 || head === null || headEntry === null) return { kind: 'absent' };
      const entry = await headEntry(f.repoPath);
      if (entry === null) return { kind: 'absent' };
      if (entry.mode === '120000') return { kind: 'symlink' };
      const { blob } = await git.readBlob({ fs, dir: repo.root, oid: entry.oid, cache });
      return sideOf(blob);
    };
    // The working tree file as git sees it, through the authority: never followed, no hard link read.
    const workdirSide = async (f: ChangedFile): Promise<Side> => {
      let file;
      let stats;
      try {
        file = workspace.descend(f.rel);
        stats = authority.entryStats(file);
      } catch {
        return { kind: 'absent' }; // a folder on the way is a symlink now: git does not enter it either
      }
      if (stats === null) return { kind: 'absent' };
      if (stats.isSymbolicLink()) return { kind: 'symlink' };
      if (!stats.isFile()) return { kind: 'absent' };
      if (stats.size > MAX_DIFF_FILE_BYTES) return { kind: 'large', bytes: Number(stats.size) };
      try {
        return sideOf(await authority.readWhole(file));
      } catch (err) {
        if (err instanceof ToolRefusal || err instanceof ToolFailure) return { kind: 'unread', reason: err.message };
        throw err;
      }
    };

    const changes = files.filter((f) => !(f.head === 0 && f.workdir === 0) && !(f.head === 1 && f.workdir === 1));
    const budget = new OutputBudget(ctx.limits.outputBytes);
    const skipped: string[] = [];
    let shown = 0;
    for (const f of changes) {
      if (ctx.signal.aborted) break;
      if (budget.full) {
        skipped.push(f.rel);
        continue;
      }
      // Every rendered line takes at least 2 bytes of the output budget: render no more than fits.
      const lines = await fileDiffOffThread(f.rel, await headSide(f), await workdirSide(f), Math.ceil(ctx.limits.outputBytes / 2), ctx.signal);
      if (lines.length === 0) continue;
      for (const line of lines) if (!budget.add(cutLine(line, ctx.limits.lineLength).text)) break;
      if (budget.full) skipped.push(f.rel);
      else shown += 1;
    }
    const notes: string[] = [];
    if (shown === 0 && skipped.length === 0) notes.push(input.path === undefined ? 'no changes against HEAD' : `no changes under ${input.path} against HEAD`);
    if (skipped.length > 0) {
      const names = skipped.slice(0, 20).map(displayPath).join(', ') + (skipped.length > 20 ? ', …' : '');
      notes.push(`output capped at ${ctx.limits.outputBytes} bytes; ${plural(skipped.length, 'file')} not shown in full: ${names}; call git_diff with path for one file`);
    }
    return withNotes(budget.lines.join('\n'), notes);
  },
});
