// After a command: every path it created, modified or deleted in its writable
// areas, checked against the policy like a write_file / delete_file of that
// path. A created path the role may not create is removed; a symlink or
// directory the role may not change is put back; a file change that cannot be
// undone (there is no copy of the old content: the plan keeps such files
// read-only, so this is a last line) is reported. Every one of them is
// recorded as a denial by the caller.
//
// Every look and every undo goes through the filesystem authority
// (fs/authority.ts) on paths below the workspace root: nothing is followed,
// a directory swapped for a symlink is refused rather than entered, and a
// file's mode is changed only on the entry the lstat saw. What cannot be
// checked does not stand where it was the command's own making: a created
// directory that cannot be listed, and a created name that is not valid
// UTF-8, are removed whole.

import type { CheckedPath } from '../../policy/canonical.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import type { Decision } from '../../policy/types.js';
import { createSymlink, entryStats, makeDirectory, removeRawTree, removeTree, setMode } from '../fs/authority.js';
import { below, diffSnapshots, type Snapshot, type SnapshotEntry, type SnapshotResult } from '../sandbox/snapshot.js';
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
const UNLISTED: Decision = Object.freeze({
  decision: 'deny',
  rule: 'builtin.unchecked',
  reason: 'a directory the command made whose content could not be listed (unreadable, or nested too deep), so it could not be checked',
});
const UNNAMED: Decision = Object.freeze({
  decision: 'deny',
  rule: 'builtin.name',
  reason: 'a name that is not valid UTF-8, which no rule can be checked against',
});
const SETID_BITS = 0o6000;

/** The one-line reason of an authority error (it names the workspace-relative path); anything else is a bug. */
function problem(err: unknown): string {
  if (err instanceof ToolFailure || err instanceof ToolRefusal) return err.message;
  throw err;
}

/** The decision on one change, as for a file tool; `approve` does not stand (nobody is asked after the fact). */
function verdict(decide: Decide, action: 'create' | 'modify' | 'delete', rel: string): Decision {
  if (isGitPath(rel)) return GIT;
  const d = decide(action, rel);
  if (d.decision !== 'approve') return d;
  return { decision: 'deny', rule: d.rule, reason: `${d.reason}; a command's changes are not put to a human afterwards: make this change with a file tool` };
}

export interface CheckRequest {
  /** The workspace root. */
  root: CheckedPath;
  decide: Decide;
  before: Snapshot;
  /** Lists the writable areas again (snapshotPlan). */
  snapshot: () => Promise<SnapshotResult>;
  /** Symlinks to put back if changed (CommandPlan.links). */
  links: ReadonlyMap<string, string>;
  /** Where a workspace path really leads (ToolContext.resolve): a created symlink's target. */
  resolve: (rel: string) => Promise<CheckedPath>;
}

/** The undo steps, each through the authority; each returns null when done, or why it could not be. */
function undoer(root: CheckedPath) {
  const at = (rel: string) => below(root, rel);
  const attempt = async (step: () => Promise<unknown>, failed: string): Promise<string | null> => {
    try {
      await step();
      return null;
    } catch (err) {
      return `${failed} (${problem(err)})`;
    }
  };
  return {
    remove: (entry: SnapshotEntry | undefined, rel: string) =>
      attempt(
        () => (entry?.odd ? removeRawTree(at(entry.odd.dir), entry.odd.raw) : removeTree(at(rel))),
        'it could not be removed',
      ),

    /** Clears set-user-ID / set-group-ID on a regular file the command left so (a root broker's command could plant a setuid-root program). */
    clearSetId: (rel: string, mode: number) => attempt(() => setMode(at(rel), mode & 0o7777 & ~SETID_BITS, 'file'), 'its set-ID bits could not be cleared'),

    restoreDir: (rel: string, mode: number) =>
      attempt(async () => {
        const p = at(rel);
        if (!entryStats(p)?.isDirectory()) {
          await removeTree(p);
          await makeDirectory(p);
        }
        await setMode(p, mode & 0o7777, 'dir');
      }, 'it could not be put back'),

    restoreLink: (rel: string, target: string) =>
      attempt(async () => {
        const p = at(rel);
        await removeTree(p);
        if (!(await createSymlink(p, target))) throw new ToolFailure(`${rel} was taken again while it was put back`);
      }, 'it could not be put back'),

    /** Directories the command left unlistable: give the owner rwx back so their content can be checked (same uid). */
    async reopen(dirs: readonly string[]): Promise<boolean> {
      let changed = false;
      for (const rel of dirs) {
        try {
          const p = at(rel);
          const st = entryStats(p);
          if (st?.isDirectory() && (Number(st.mode) & 0o700) !== 0o700) {
            await setMode(p, (Number(st.mode) & 0o7777) | 0o700, 'dir');
            changed = true;
          }
        } catch (err) {
          problem(err); // not reopened: it stays unlisted, and is reported so
        }
      }
      return changed;
    },
  };
}

export async function checkChanges(req: CheckRequest): Promise<ChangeReport> {
  const { decide, before, links } = req;
  const undo = undoer(req.root);
  const report: ChangeReport = { stood: [], refused: [], unchecked: [] };
  let after = await req.snapshot();
  // A command can chmod a directory it made to hide what is inside from the check: open it again, then look.
  for (let i = 0; i < 3 && after.ok && [...after.snapshot.entries.values()].some((e) => e.unreadable); i++) {
    const dirs = [...after.snapshot.entries].filter(([, e]) => e.unreadable).map(([p]) => p);
    if (!(await undo.reopen(dirs))) break;
    after = await req.snapshot();
  }
  if (!after.ok) {
    report.unchecked.push(`the command's changes could not be checked: ${after.reason}`);
    return report;
  }
  const diff = diffSnapshots(before, after.snapshot);
  const entryAfter = (rel: string) => after.snapshot.entries.get(rel) as SnapshotEntry;
  const entryBefore = (rel: string) => before.entries.get(rel) as SnapshotEntry;
  // A directory the command made is removed below when it cannot be listed; one that was there is reported.
  const unlisted = diff.unreadable.filter((d) => before.entries.has(d));
  if (unlisted.length > 0) {
    report.unchecked.push(`${unlisted.map((d) => d || '.').join(', ')} could not be listed after the command, so changes inside could not be checked`);
  }
  const refuse = (change: Change, decision: Decision, problem: string | null, how = change.kind === 'created' ? 'removed' : 'put back') =>
    report.refused.push({ ...change, decision, undone: problem === null, ...(problem !== null ? { why: problem } : { how }) });

  /** A file left set-ID whose change is allowed: the bits are cleared, or, where they cannot be, it does not stand. */
  const setIdFile = async (change: Change, entry: SnapshotEntry) => {
    const notCleared = await undo.clearSetId(change.rel, entry.mode);
    if (notCleared === null) {
      report.stood.push(change);
      refuse(change, SETID, null, 'its set-ID bits cleared');
      return;
    }
    const notRemoved = await undo.remove(entry, change.rel);
    if (notRemoved !== null) report.stood.push(change);
    refuse(change, SETID, notRemoved === null ? null : `${notCleared}, and ${notRemoved}`, `removed: ${notCleared}`);
  };

  const removedDirs: string[] = [];
  for (const key of diff.created) {
    if (removedDirs.some((d) => key.startsWith(`${d}/`))) continue; // gone with its directory
    const entry = entryAfter(key);
    const change: Change = { rel: entry.odd?.shown ?? key, kind: 'created' };
    let d = entry.odd ? UNNAMED : entry.unreadable ? UNLISTED : verdict(decide, 'create', key);
    if (d.decision === 'allow' && entry.type === 'symlink') d = (await linkVerdict(req.resolve, decide, key)) ?? d;
    if (d.decision === 'allow') {
      if (entry.type === 'file' && (entry.mode & SETID_BITS) !== 0) await setIdFile(change, entry);
      else if (entry.type !== 'dir') report.stood.push(change);
      continue;
    }
    const notRemoved = await undo.remove(entry, key);
    if (notRemoved === null && entry.type === 'dir') removedDirs.push(key);
    refuse(change, d, notRemoved);
  }

  for (const rel of diff.modified) {
    const old = entryBefore(rel);
    const now = entryAfter(rel);
    const change: Change = { rel, kind: 'modified' };
    const d = verdict(decide, 'modify', rel);
    const target = links.get(rel);
    if (old.type === 'dir' && now.type === 'dir') {
      // Only a directory's own mode or owner changed: not a file change; put it back where the role may not.
      if (d.decision !== 'allow') refuse(change, d, await undo.restoreDir(rel, old.mode));
    } else if (d.decision === 'allow') {
      if (now.type === 'file' && (now.mode & SETID_BITS) !== 0) await setIdFile(change, now);
      else report.stood.push(change);
    } else {
      refuse(change, d, target !== undefined ? await undo.restoreLink(rel, target) : 'there is no copy of the old content to put back');
    }
  }

  for (const rel of diff.deleted) {
    const old = entryBefore(rel);
    const change: Change = { rel, kind: 'deleted' };
    const d = verdict(decide, 'delete', rel);
    const target = links.get(rel);
    if (old.type === 'dir') {
      if (d.decision !== 'allow') refuse(change, d, await undo.restoreDir(rel, old.mode));
    } else if (d.decision === 'allow') {
      report.stood.push(change);
    } else {
      refuse(change, d, target !== undefined ? await undo.restoreLink(rel, target) : 'there is no copy of the old content to put back');
    }
  }
  return report;
}

/** A created symlink stands only if it leads to a workspace path the role may read. */
async function linkVerdict(resolve: CheckRequest['resolve'], decide: Decide, rel: string): Promise<Decision | null> {
  try {
    const target = await resolve(rel);
    const read = decide('read', target.rel);
    return read.decision === 'deny' ? { decision: 'deny', rule: read.rule, reason: `a link to ${target.rel}, which may not be read (${read.reason})` } : null;
  } catch (err) {
    if (err instanceof ToolRefusal) return { decision: 'deny', rule: 'path', reason: 'a link that leads outside the workspace' };
    throw err;
  }
}
