// A git commit per session that changed files, on a ref of its own
// (`refs/choragen/sessions/<session-id>`), so a reviewer can `git diff` or
// `git log` exactly what one session did. It is built from objects only
// (blobs, trees, a commit, a ref): the user's branch, HEAD, index and working
// tree are never touched. isomorphic-git, no git binary.

import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import type { TreeEntry } from 'isomorphic-git';
import { entryStats, readLinkText, readWhole } from '../../capabilities/fs/authority.js';
import { findRepo, fromRepoPath, headCommit, toRepoPath, type GitRepo } from '../../capabilities/git/repo.js';
import { type CheckedPath, workspaceRoot } from '../../policy/canonical.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';

export interface SessionCommitRequest {
  sessionId: string;
  role: string;
  parentId: string | null;
  /** workspace-relative paths the session changed (deleted ones included) */
  files: readonly string[];
  /** first line(s) of the commit message; the trailers are added */
  message: string;
}

export const SESSION_REF_PREFIX = 'refs/choragen/sessions/';
const AUTHOR = { name: 'choragen', email: 'choragen@localhost' };
const TREE_MODE = '040000';

/** The ref a session's commit lives on. Characters git refuses in a ref become `-`. */
export function sessionRef(sessionId: string): string {
  const safe = sessionId
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/\.{2,}/g, '-')
    .replace(/^[.-]+/, '')
    .replace(/(\.lock|\.)$/, '-');
  return `${SESSION_REF_PREFIX}${safe || 'session'}`;
}

export function sessionCommitMessage(request: Omit<SessionCommitRequest, 'files'>): string {
  const subject = request.message.trim() || `choragen session ${request.sessionId}`;
  return (
    `${subject}\n\n` +
    `Choragen-Session: ${request.sessionId}\n` +
    `Choragen-Role: ${request.role}\n` +
    `Choragen-Parent: ${request.parentId ?? 'none'}\n`
  );
}

/** A file's new state: a blob with its mode, or null when it is gone. */
type FileChange = { oid: string; mode: string } | null;

/**
 * Record the session's files as a commit on its own ref. The tree is the
 * parent's tree with these files' current contents (deleted files removed);
 * the parent is the session's previous commit, else HEAD. Returns the commit
 * oid, or null when the workspace is not a git repository or nothing differs.
 */
export async function recordSessionCommit(workspace: string, request: SessionCommitRequest): Promise<string | null> {
  if (request.files.length === 0) return null;
  const repo = await findRepo(workspace);
  if (!repo) return null;
  const dir = repo.root;
  const ref = sessionRef(request.sessionId);

  const previous = await git.resolveRef({ fs, dir, ref }).catch(() => null);
  const parent = previous ?? (await headCommit(repo));
  const baseTree = parent ? (await git.readCommit({ fs, dir, oid: parent })).commit.tree : null;

  const changes = new Map<string, FileChange>();
  const root = await workspaceRoot(workspace);
  for (const rel of request.files) {
    const repoPath = repoPathOf(repo, rel);
    if (repoPath === null || changes.has(repoPath)) continue;
    const change = await snapshot(repo, root, repoPath);
    if (change !== 'unread') changes.set(repoPath, change);
  }
  if (changes.size === 0) return null;

  const tree = (await buildTree(dir, baseTree, changes)) ?? (await git.writeTree({ fs, dir, tree: [] }));
  if (tree === baseTree) return null;

  const now = new Date();
  const who = { ...AUTHOR, timestamp: Math.floor(now.getTime() / 1000), timezoneOffset: now.getTimezoneOffset() };
  const oid = await git.writeCommit({
    fs,
    dir,
    commit: { message: sessionCommitMessage(request), tree, parent: parent ? [parent] : [], author: who, committer: who },
  });
  await git.writeRef({ fs, dir, ref, value: oid, force: true });
  return oid;
}

export interface SessionRefInfo { ref: string; oid: string; committedMs: number }

/** The session refs of the workspace's repository, with their commits' times (none outside a repository). */
export async function listSessionRefs(workspace: string): Promise<SessionRefInfo[]> {
  const repo = await findRepo(workspace);
  if (!repo) return [];
  const dir = repo.root;
  const names = await git.listRefs({ fs, dir, filepath: SESSION_REF_PREFIX.replace(/\/$/, '') }).catch(() => [] as string[]);
  const out: SessionRefInfo[] = [];
  for (const name of names) {
    const ref = `${SESSION_REF_PREFIX}${name}`;
    try {
      const oid = await git.resolveRef({ fs, dir, ref });
      const { commit } = await git.readCommit({ fs, dir, oid });
      out.push({ ref, oid, committedMs: commit.committer.timestamp * 1000 });
    } catch {
      // a ref that does not name a readable commit is left to git
    }
  }
  return out;
}

export async function deleteSessionRef(workspace: string, ref: string): Promise<void> {
  const repo = await findRepo(workspace);
  if (repo && ref.startsWith(SESSION_REF_PREFIX)) await git.deleteRef({ fs, dir: repo.root, ref });
}

/** A clean repository path for a workspace-relative file, or null for anything odd or inside .git. */
function repoPathOf(repo: GitRepo, rel: string): string | null {
  const normalized = path.posix.normalize(rel.split(path.sep).join('/')).replace(/^\.\/+/, '').replace(/\/+$/, '');
  if (!normalized || normalized === '.' || normalized.startsWith('../') || normalized === '..' || path.posix.isAbsolute(normalized)) return null;
  const repoPath = toRepoPath(repo, normalized);
  if (repoPath.split('/').includes('.git')) return null;
  return repoPath;
}

/**
 * The file as git would store it, read through the filesystem authority: a
 * symlink is its target, never followed; a file under a folder that became a
 * symlink is gone (git would not enter it either); a directory is not a file
 * change; a hard-linked file is not read ('unread': its last version stays).
 */
async function snapshot(repo: GitRepo, root: CheckedPath, repoPath: string): Promise<FileChange | 'unread'> {
  const rel = fromRepoPath(repo, repoPath);
  if (rel === null) return 'unread';
  const dir = repo.root;
  let file: CheckedPath;
  let stat;
  try {
    file = root.descend(rel);
    stat = entryStats(file);
  } catch (err) {
    if (err instanceof ToolRefusal) return null;
    throw err;
  }
  if (stat === null) return null;
  if (stat.isSymbolicLink()) {
    const target = await readLinkText(file);
    return { oid: await git.writeBlob({ fs, dir, blob: Buffer.from(target) }), mode: '120000' };
  }
  if (!stat.isFile()) return null;
  let blob: Buffer;
  try {
    blob = await readWhole(file);
  } catch (err) {
    if (err instanceof ToolRefusal || err instanceof ToolFailure) return 'unread';
    throw err;
  }
  return { oid: await git.writeBlob({ fs, dir, blob }), mode: stat.mode & 0o111n ? '100755' : '100644' };
}

/**
 * `treeOid` with `changes` (paths relative to this tree) applied, written as
 * new tree objects. Returns null for an empty tree (git stores no empty folders).
 */
async function buildTree(dir: string, treeOid: string | null, changes: Map<string, FileChange>): Promise<string | null> {
  const entries = new Map<string, TreeEntry>();
  if (treeOid) for (const e of (await git.readTree({ fs, dir, oid: treeOid })).tree) entries.set(e.path, e);

  const nested = new Map<string, Map<string, FileChange>>();
  for (const [p, change] of changes) {
    const slash = p.indexOf('/');
    if (slash >= 0) {
      const head = p.slice(0, slash);
      if (!nested.has(head)) nested.set(head, new Map());
      nested.get(head)!.set(p.slice(slash + 1), change);
    } else if (change === null) {
      if (entries.get(p)?.type === 'blob') entries.delete(p);
    } else {
      entries.set(p, { mode: change.mode, path: p, oid: change.oid, type: 'blob' });
    }
  }
  for (const [name, sub] of nested) {
    const existing = entries.get(name);
    const subTree = await buildTree(dir, existing?.type === 'tree' ? existing.oid : null, sub);
    if (subTree !== null) entries.set(name, { mode: TREE_MODE, path: name, oid: subTree, type: 'tree' });
    else if (existing?.type === 'tree' || !existing) entries.delete(name);
  }
  if (entries.size === 0) return null;
  return git.writeTree({ fs, dir, tree: [...entries.values()] });
}
