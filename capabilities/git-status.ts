// git_status: porcelain-like lines for the workspace's changes, computed with
// isomorphic-git (no git binary) and without touching the index.

import { Type } from '@sinclair/typebox';
import { defineCapability, type ToolContext } from './capability.js';
import { OutputBudget, displayPath, plural, withNotes } from './fs/output.js';

/** One row of isomorphic-git's statusMatrix: [path, HEAD, WORKDIR, STAGE]. */
export type StatusRow = [string, number, number, number];

/**
 * Porcelain codes (`XY`) for a status matrix row: X compares HEAD with the
 * index, Y the index with the working tree. HEAD: 0 absent, 1 present.
 * WORKDIR: 0 absent, 1 same as HEAD, 2 different. STAGE: 0 absent, 1 same as
 * HEAD, 2 same as WORKDIR, 3 different from both. A file removed from the index
 * but still on disk gives two codes (`D ` and `??`), as git prints it.
 */
export function porcelainCodes(head: number, workdir: number, stage: number): string[] {
  if (head === 1 && workdir === 1 && stage === 1) return [];
  if (head === 0 && stage === 0) return workdir === 0 ? [] : ['??'];
  const x = head === 0 ? 'A' : stage === 0 ? 'D' : stage === 1 ? ' ' : 'M';
  let y: string;
  if (stage === 0) y = ' ';
  else if (workdir === 0) y = 'D';
  else if (stage === 1) y = workdir === 1 ? ' ' : 'M';
  else if (stage === 2) y = workdir === 2 ? ' ' : 'M';
  else y = 'M';
  return stage === 0 && workdir !== 0 ? [`${x}${y}`, '??'] : [`${x}${y}`];
}

export interface ChangedFile {
  /** workspace-relative */
  rel: string;
  /** repository-relative */
  repoPath: string;
  head: number;
  workdir: number;
  stage: number;
}

/** The input of the git tools: the optional path changedFiles narrows to. */
export const CHANGED_FILES_INPUT = Type.Object(
  { path: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'File or directory relative to the workspace root (default: everything)' })) },
  { additionalProperties: false },
);

/**
 * The workspace's changed files (readable ones only), restricted to `path`
 * when given, sorted. Shared by git_status and git_diff.
 */
export async function changedFiles(ctx: ToolContext, path: string | undefined) {
  const [{ default: git }, repoTools, { worktreeFs }] = await Promise.all([
    import('isomorphic-git'),
    import('./git/repo.js'),
    import('./git/worktree-fs.js'),
  ]);
  const repo = await repoTools.requireRepo(ctx.workspace);
  const scope = path === undefined ? '' : (await ctx.authorize(path, 'read')).rel;
  const target = repoTools.toRepoPath(repo, scope === '.' ? '' : scope);
  const workspace = await ctx.root();
  const fs = worktreeFs(repo, workspace);
  // refresh: false — a status query must not rewrite .git/index.
  const matrix = (await git.statusMatrix({
    fs,
    dir: repo.root,
    filepaths: target ? [target] : undefined,
    refresh: false,
  })) as StatusRow[];
  const files: ChangedFile[] = [];
  for (const [repoPath, head, workdir, stage] of matrix) {
    if (head === 1 && workdir === 1 && stage === 1) continue;
    const rel = repoTools.fromRepoPath(repo, repoPath);
    if (rel === null || repoTools.isStatePath(rel) || !ctx.canRead(rel)) continue;
    files.push({ rel, repoPath, head, workdir, stage });
  }
  files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return { repo, files, scope, workspace, fs };
}

export const gitStatus = defineCapability({
  name: 'git_status',
  description:
    'Show the changes in the workspace\'s git repository, like `git status --porcelain -b`: a `## branch` line, then one line ' +
    'per changed file: ` M` modified, ` D` deleted, `A ` added to the index, `M ` modified in the index, `??` untracked. ' +
    'With path, only files under that path. Files you may not read are left out.',
  input: CHANGED_FILES_INPUT,
  defaultRoles: ['control', 'impl'],
  actions: ['read'],
  async run(ctx, input) {
    const { files, repo, fs } = await changedFiles(ctx, input.path);
    const { default: git } = await import('isomorphic-git');
    const branch = await git.currentBranch({ fs, dir: repo.root, fullname: false }).catch(() => undefined);
    const lines = files.flatMap((f) => porcelainCodes(f.head, f.workdir, f.stage).map((code) => `${code} ${displayPath(f.rel)}`));
    const budget = new OutputBudget(ctx.limits.outputBytes);
    budget.add(`## ${branch ?? 'HEAD (no branch)'}`);
    let shown = 0;
    for (const line of lines) {
      if (shown >= ctx.limits.listEntries || !budget.add(line)) break;
      shown += 1;
    }
    const notes: string[] = [];
    if (lines.length === 0) notes.push(input.path === undefined ? 'working tree clean' : `no changes under ${input.path}`);
    if (shown < lines.length) notes.push(`${plural(lines.length - shown, 'more line')} not shown; give a path to narrow it down`);
    return withNotes(budget.lines.join('\n'), notes);
  },
});
