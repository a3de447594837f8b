// After a command: every path it created, modified or deleted in its writable
// areas, checked against the policy like a write_file / delete_file of that
// path. A created path the role may not create is removed; a symlink or
// directory the role may not change is put back; a file change that cannot be
// undone (there is no copy of the old content: the plan keeps such files
// read-only, so this is a last line) is reported. Every one of them is
// recorded as a denial by the caller.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { canonicalize } from '../../policy/canonical.js';
import { ToolRefusal } from '../../policy/errors.js';
import type { Decision } from '../../policy/types.js';
import { errnoCode } from '../sandbox/errno.js';
import { removeCreated } from '../sandbox/remove.js';
import { diffSnapshots, type Snapshot, type SnapshotEntry, type SnapshotResult } from '../sandbox/snapshot.js';
import { isGitPath, type Decide } from './plan.js';

export type ChangeKind = 'created' | 'modified' | 'deleted';

export interface Change {
  rel: string;
  kind: ChangeKind;
}

export interface RefusedChange extends Change {
  decision: Decision;
  /** Undone (`how`: removed, put back…). Otherwise it stands although the policy refuses it, and `why` says why. */
  undone: boolean;
  how?: string;
  why?: string;
}

export interface ChangeReport {
  /** Files and links whose change stands (directories are not files changed). */
  stood: Change[];
  refused: RefusedChange[];
  /** What could not be checked, in a sentence each. */
  unchecked: string[];
}

const GIT: Decision = Object.freeze({ decision: 'deny', rule: 'builtin.protected', reason: 'git internals change only through git' });
const SETID: Decision = Object.freeze({
  decision: 'deny',
  rule: 'builtin.setid',
  reason: 'a file a command leaves set-user-ID or set-group-ID would run as the broker\'s user or group',
});
const SETID_BITS = 0o6000;

/** Clears set-user-ID / set-group-ID on a regular file the command left so (a root broker's command could plant a setuid-root program). */
async function clearSetId(workspace: string, rel: string, mode: number): Promise<string | null> {
  const parent = await realParent(workspace, rel);
  if (parent === null) return 'its parent directory is gone or is a symlink';
  const abs = path.join(parent, path.basename(rel));
  try {
    const st = await fsp.lstat(abs);
    if (!st.isFile()) return null;
    await fsp.chmod(abs, mode & 0o7777 & ~SETID_BITS);
    return null;
  } catch (err) {
    return `the bits could not be cleared (${errnoCode(err)})`;
  }
}

/** The decision on one change, as for a file tool; `approve` does not stand (nobody is asked after the fact). */
function verdict(decide: Decide, action: 'create' | 'modify' | 'delete', rel: string): Decision {
  if (isGitPath(rel)) return GIT;
  const d = decide(action, rel);
  if (d.decision !== 'approve') return d;
  return { decision: 'deny', rule: d.rule, reason: `${d.reason}; a command's changes are not put to a human afterwards: make this change with a file tool` };
}

/** A created symlink stands only if it leads to a workspace path the role may read. */
async function linkVerdict(workspace: string, decide: Decide, rel: string): Promise<Decision | null> {
  try {
    const target = await canonicalize(workspace, rel);
    const read = decide('read', target.rel);
    return read.decision === 'deny' ? { decision: 'deny', rule: read.rule, reason: `a link to ${target.rel}, which may not be read (${read.reason})` } : null;
  } catch (err) {
    if (err instanceof ToolRefusal) return { decision: 'deny', rule: 'path', reason: 'a link that leads outside the workspace' };
    throw err;
  }
}

/** The parent of `rel` as a real directory inside the workspace, or a reason it is not. */
async function realParent(workspace: string, rel: string): Promise<string | null> {
  const parent = path.join(workspace, ...rel.split('/').slice(0, -1));
  const real = await fsp.realpath(parent).catch(() => null);
  return real === parent ? parent : null;
}

async function restoreDir(workspace: string, rel: string, mode: number): Promise<string | null> {
  const parent = await realParent(workspace, rel);
  if (parent === null) return 'its parent directory is gone or is a symlink';
  const abs = path.join(parent, path.basename(rel));
  try {
    const st = await fsp.lstat(abs).catch(() => null);
    if (st?.isDirectory()) await fsp.chmod(abs, mode & 0o7777);
    else {
      if (st !== null) await removeCreated(workspace, rel);
      await fsp.mkdir(abs, { mode: mode & 0o7777 });
      await fsp.chmod(abs, mode & 0o7777);
    }
    return null;
  } catch (err) {
    return `it could not be put back (${errnoCode(err)})`;
  }
}

async function restoreLink(workspace: string, rel: string, target: string): Promise<string | null> {
  const parent = await realParent(workspace, rel);
  if (parent === null) return 'its parent directory is gone or is a symlink';
  try {
    if ((await fsp.lstat(path.join(parent, path.basename(rel))).catch(() => null)) !== null) {
      const removed = await removeCreated(workspace, rel);
      if (!removed.removed) return removed.reason;
    }
    await fsp.symlink(target, path.join(parent, path.basename(rel)));
    return null;
  } catch (err) {
    return `it could not be put back (${errnoCode(err)})`;
  }
}

/** Directories the command left unlistable: give the owner rwx back so their content can be checked (same uid). */
async function reopen(workspace: string, dirs: readonly string[]): Promise<boolean> {
  let changed = false;
  for (const rel of dirs) {
    const abs = path.join(workspace, ...rel.split('/').filter(Boolean));
    const st = await fsp.lstat(abs).catch(() => null);
    if (st?.isDirectory() && (st.mode & 0o700) !== 0o700 && (await realParent(workspace, rel)) !== null) {
      await fsp.chmod(abs, (st.mode & 0o7777) | 0o700).then(() => (changed = true), () => undefined);
    }
  }
  return changed;
}

export interface CheckRequest {
  workspace: string;
  decide: Decide;
  before: Snapshot;
  /** Lists the writable areas again (snapshotPlan). */
  snapshot: () => Promise<SnapshotResult>;
  /** Symlinks to put back if changed (CommandPlan.links). */
  links: ReadonlyMap<string, string>;
}

export async function checkChanges(req: CheckRequest): Promise<ChangeReport> {
  const { workspace, decide, before, links } = req;
  const report: ChangeReport = { stood: [], refused: [], unchecked: [] };
  let after = await req.snapshot();
  // A command can chmod a directory it made to hide what is inside from the check: open it again, then look.
  for (let i = 0; i < 3 && after.ok && [...after.snapshot.entries.values()].some((e) => e.unreadable); i++) {
    const dirs = [...after.snapshot.entries].filter(([, e]) => e.unreadable).map(([p]) => p);
    if (!(await reopen(workspace, dirs))) break;
    after = await req.snapshot();
  }
  if (!after.ok) {
    report.unchecked.push(`the command's changes could not be checked: ${after.reason}`);
    return report;
  }
  const diff = diffSnapshots(before, after.snapshot);
  if (diff.unreadable.length > 0) {
    report.unchecked.push(`${diff.unreadable.map((d) => d || '.').join(', ')} could not be listed after the command, so changes inside could not be checked`);
  }
  const entryAfter = (rel: string) => after.snapshot.entries.get(rel) as SnapshotEntry;
  const entryBefore = (rel: string) => before.entries.get(rel) as SnapshotEntry;
  const refuse = (change: Change, decision: Decision, problem: string | null, how = change.kind === 'created' ? 'removed' : 'put back') =>
    report.refused.push({ ...change, decision, undone: problem === null, ...(problem !== null ? { why: problem } : { how }) });
  const setIdCleared = 'its set-ID bits cleared';

  const removedDirs: string[] = [];
  for (const rel of diff.created) {
    if (removedDirs.some((d) => rel.startsWith(`${d}/`))) continue; // gone with its directory
    const entry = entryAfter(rel);
    let d = verdict(decide, 'create', rel);
    if (d.decision === 'allow' && entry.type === 'symlink') d = (await linkVerdict(workspace, decide, rel)) ?? d;
    const change: Change = { rel, kind: 'created' };
    if (d.decision === 'allow') {
      if (entry.type !== 'dir') report.stood.push(change);
      if (entry.type === 'file' && (entry.mode & SETID_BITS) !== 0) refuse(change, SETID, await clearSetId(workspace, rel, entry.mode), setIdCleared);
      continue;
    }
    const removed = await removeCreated(workspace, rel);
    if (removed.removed && entry.type === 'dir') removedDirs.push(rel);
    refuse(change, d, removed.removed ? null : `it could not be removed (${removed.reason})`);
  }

  for (const rel of diff.modified) {
    const old = entryBefore(rel);
    const now = entryAfter(rel);
    const change: Change = { rel, kind: 'modified' };
    const d = verdict(decide, 'modify', rel);
    const target = links.get(rel);
    if (old.type === 'dir' && now.type === 'dir') {
      // Only a directory's own mode or owner changed: not a file change; put it back where the role may not.
      if (d.decision !== 'allow') refuse(change, d, await restoreDir(workspace, rel, old.mode));
    } else if (d.decision === 'allow') {
      report.stood.push(change);
      if (now.type === 'file' && (now.mode & SETID_BITS) !== 0) refuse(change, SETID, await clearSetId(workspace, rel, now.mode), setIdCleared);
    } else {
      refuse(change, d, target !== undefined ? await restoreLink(workspace, rel, target) : 'there is no copy of the old content to put back');
    }
  }

  for (const rel of diff.deleted) {
    const old = entryBefore(rel);
    const change: Change = { rel, kind: 'deleted' };
    const d = verdict(decide, 'delete', rel);
    const target = links.get(rel);
    if (old.type === 'dir') {
      if (d.decision !== 'allow') refuse(change, d, await restoreDir(workspace, rel, old.mode));
    } else if (d.decision === 'allow') {
      report.stood.push(change);
    } else {
      refuse(change, d, target !== undefined ? await restoreLink(workspace, rel, target) : 'there is no copy of the old content to put back');
    }
  }
  return report;
}
