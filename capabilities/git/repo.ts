// Where the workspace's git repository is, for the git tools and session
// commits (isomorphic-git: no git binary needed). The workspace may be the
// repository root or a folder inside one; paths are mapped between
// workspace-relative (what tools show) and repository-relative (what git stores).

import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import { ToolFailure } from '../../policy/errors.js';

export interface GitRepo {
  /** absolute working tree root */
  readonly root: string;
  /** the workspace's folder inside the repository, `/`-separated; '' at the root */
  readonly prefix: string;
}

export async function findRepo(workspace: string): Promise<GitRepo | null> {
  let root: string;
  try {
    root = await git.findRoot({ fs, filepath: path.resolve(workspace) });
  } catch {
    return null;
  }
  const prefix = path.relative(root, path.resolve(workspace)).split(path.sep).join('/');
  return { root, prefix };
}

export async function requireRepo(workspace: string): Promise<GitRepo> {
  const repo = await findRepo(workspace);
  if (!repo) throw new ToolFailure('the workspace is not a git repository');
  return repo;
}

/** Workspace-relative → repository-relative ('' means the workspace itself). */
export function toRepoPath(repo: GitRepo, rel: string): string {
  if (!repo.prefix) return rel;
  return rel ? `${repo.prefix}/${rel}` : repo.prefix;
}

/** Repository-relative → workspace-relative, or null when outside the workspace. */
export function fromRepoPath(repo: GitRepo, repoPath: string): string | null {
  if (!repo.prefix) return repoPath;
  return repoPath.startsWith(`${repo.prefix}/`) ? repoPath.slice(repo.prefix.length + 1) : null;
}

/** The commit HEAD points at, or null in a repository without commits. */
export async function headCommit(repo: GitRepo): Promise<string | null> {
  try {
    return await git.resolveRef({ fs, dir: repo.root, ref: 'HEAD' });
  } catch {
    return null;
  }
}

/** A HEAD tree entry: its mode says what it is (`120000` a symlink, `160000` a submodule). */
export interface HeadEntry {
  mode: string;
  oid: string;
}

/**
 * Looks up entries of the commit `head` by repository path, reading each
 * tree once. Null for a path that is not in that commit.
 */
export function headEntries(repo: GitRepo, head: string): (repoPath: string) => Promise<HeadEntry | null> {
  const trees = new Map<string, Promise<Map<string, HeadEntry> | null>>();
  const treeOf = (dir: string) => {
    let tree = trees.get(dir);
    if (!tree) {
      tree = git
        .readTree({ fs, dir: repo.root, oid: head, filepath: dir || undefined })
        .then(({ tree }) => new Map(tree.map((e) => [e.path, { mode: e.mode, oid: e.oid }] as const)))
        .catch(() => null);
      trees.set(dir, tree);
    }
    return tree;
  };
  return async (repoPath) => {
    const cut = repoPath.lastIndexOf('/');
    const tree = await treeOf(cut === -1 ? '' : repoPath.slice(0, cut));
    return tree?.get(repoPath.slice(cut + 1)) ?? null;
  };
}

/** Files that hold the runtime's own records, not the work: left out of status and diff. */
export function isStatePath(rel: string): boolean {
  return rel === '.choragen' || rel.startsWith('.choragen/');
}
