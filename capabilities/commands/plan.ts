// The sandbox plan of one command, derived from the policy and the disk
// (docs/sandbox.md, "Integration"). Written under the workspace lock, so what
// it saw is what bubblewrap mounts.
//
//   writable   the static bases of the role's allow rules that exist as real
//              paths (the whole workspace for a glob without one)
//   read-only  inside those: every `.git`, every directory a deny or approve
//              rule covers whole, every file the role may not both modify
//              and delete (deny, approve or no allow rule: a change to it
//              could not be undone), every file with more than one hard link
//   hidden     anywhere in the workspace: every path denied for reads (a
//              directory whole when a rule covers it whole); `.choragen`;
//              every other name (hard link) in the workspace of a file
//              hidden so, which read_file refuses to read through and the
//              command could otherwise read the secret by
//
// Symlinks are never mounted (bubblewrap would follow them); a symlink in a
// writable area that the role may not change is put back after the run.
//
// The walk lists the workspace through the filesystem authority
// (fs/authority.ts), never following a link. A directory it cannot list, or
// that is too deep to walk, is hidden whole: what is inside could not be
// checked. A name that is not valid UTF-8 cannot be given to bubblewrap,
// so one that would need protecting, or could change, stops the plan.

import type { CheckedPath } from '../../policy/canonical.js';
import type { Decision, MutationAction } from '../../policy/types.js';
import { entryStats, listDirectory, listDirectoryStats, readLinkText, type EntryKind } from '../fs/authority.js';
import { tooDeep } from '../fs/walk.js';
import type { HiddenPath, SandboxPlan } from '../sandbox/plan.js';

export type Decide = (action: MutationAction | 'read', rel: string) => Decision;

export interface PlanRequest {
  /** The workspace root. */
  root: CheckedPath;
  /** The working directory, inside the workspace. */
  cwd: CheckedPath;
  argv: readonly string[];
  pathDirs: readonly string[];
  /** `.` or workspace-relative paths (policy/command-areas.ts). */
  writableBases: readonly string[];
  decide: Decide;
}

export interface CommandPlan {
  plan: SandboxPlan;
  /** Symlinks in writable areas that the role may not change, with their targets, to put back after the run. */
  links: ReadonlyMap<string, string>;
}

export type PlanResult = { ok: true; value: CommandPlan } | { ok: false; reason: string };

/** bubblewrap takes at most 9,000 arguments, and each path protected one by one costs three to five. */
export const MAX_PROTECTED_PATHS = 1500;
/** Entries the scan of the workspace visits before it gives up (a runaway tree, not a project). */
export const MAX_SCAN_ENTRIES = 2_000_000;

const TOO_MANY_ENTRIES = {
  ok: false,
  reason: `the workspace holds more than ${MAX_SCAN_ENTRIES.toLocaleString('en-US')} entries, too many to plan a sandbox for`,
} as const;

const WRITES: readonly MutationAction[] = ['create', 'modify', 'delete'];
/** Names no rule lists literally: a rule that matches them matches any name there. */
const PROBE = '\u0001choragen-probe';

/**
 * Whether a rule covers `rel` and everything below it for every action given:
 * every probe is refused (or, for writes, sent to approval) by a rule, never
 * only by the default. Errs towards "no" (a default deny does not count),
 * which protects file by file instead.
 */
export function coversTree(decide: Decide, rel: string, actions: readonly (MutationAction | 'read')[]): boolean {
  for (const action of actions) {
    for (const probe of [rel, `${rel}/${PROBE}`, `${rel}/${PROBE}/${PROBE}.js`]) {
      const d = decide(action, probe);
      if (d.decision === 'allow' || d.rule === 'default') return false;
    }
  }
  return true;
}

/** A `.git` directory or anything in one, at any depth: git internals change only through git. */
export function isGitPath(rel: string): boolean {
  return rel.split('/').includes('.git');
}

/** Whether the role may change this existing path in every way a command can (so it can stay writable). */
function mayChange(decide: Decide, rel: string): boolean {
  return !isGitPath(rel) && decide('modify', rel).decision === 'allow' && decide('delete', rel).decision === 'allow';
}

/** The base as an existing entry reached without a symlink on the way (bubblewrap would follow one), else null. */
function realEntry(root: CheckedPath, base: string): CheckedPath | null {
  try {
    const p = base === '.' ? root : root.descend(base);
    const st = entryStats(p);
    return st !== null && !st.isSymbolicLink() ? p : null;
  } catch {
    return null; // a symlink or a file on the way
  }
}

/** The writable areas: each base that exists as its own real path and lies in nothing hidden or protected whole. */
function writableAreas(req: PlanRequest): CheckedPath[] {
  const areas: CheckedPath[] = [];
  for (const base of req.writableBases) {
    const parts = base === '.' ? [] : base.split('/');
    const blocked = parts.some((_, i) => {
      const prefix = parts.slice(0, i + 1).join('/');
      return isGitPath(prefix) || coversTree(req.decide, prefix, ['read']) || coversTree(req.decide, prefix, WRITES);
    });
    const area = blocked ? null : realEntry(req.root, base);
    if (area !== null) areas.push(area);
  }
  return areas;
}

interface Listed {
  name: string;
  raw?: Buffer;
  kind: EntryKind;
  /** Link count, where the listing took an lstat (writable directories). */
  nlink?: bigint;
}

/** A directory's entries: with their link counts where what is in it may be written. */
async function list(dir: CheckedPath, writable: boolean): Promise<Listed[]> {
  if (!writable) return listDirectory(dir);
  return (await listDirectoryStats(dir)).map(({ name, raw, stats }) => ({
    name,
    ...(raw !== undefined ? { raw } : {}),
    kind: stats.isSymbolicLink() ? 'symlink' : stats.isDirectory() ? 'dir' : stats.isFile() ? 'file' : 'other',
    nlink: stats.nlink,
  }));
}

function unnamable(rel: string, why: string): { ok: false; reason: string } {
  return { ok: false, reason: `${rel}: its name is not valid UTF-8, so the sandbox ${why}; rename it` };
}

export async function planCommand(req: PlanRequest): Promise<PlanResult> {
  const { root } = req;
  const writable = writableAreas(req);
  const writableRels = new Set(writable.map((p) => p.rel));
  const readOnly: string[] = [];
  const hidden: HiddenPath[] = [];
  const links = new Map<string, string>();
  let visited = 0;

  // Directories to list, and whether what is in them may be written.
  const pending: Array<{ dir: CheckedPath; writable: boolean }> = [{ dir: root, writable: writableRels.has('.') }];
  // What the walk hid for reads, for the hard-link check after it.
  const hiddenForReads: Array<{ p: CheckedPath; kind: 'file' | 'dir' }> = [];
  while (pending.length > 0) {
    const { dir, writable: dirWritable } = pending.pop()!;
    let entries: Listed[];
    try {
      entries = await list(dir, dirWritable);
    } catch (err) {
      if (dir === root) return { ok: false, reason: `the workspace could not be listed (${err instanceof Error ? err.message : String(err)})` };
      // What is inside could not be checked, and the command, were it to get in (a chmod where it may
      // write, another filesystem mounted here), would find files this walk never saw: hidden whole.
      hidden.push({ path: dir.abs, kind: 'dir' });
      continue;
    }
    for (const entry of entries) {
      if (++visited > MAX_SCAN_ENTRIES) {
        return TOO_MANY_ENTRIES;
      }
      const inArea = dirWritable || writableRels.has(dir.rel === '.' ? entry.name : `${dir.rel}/${entry.name}`);
      if (entry.raw !== undefined) {
        const shown = dir.rel === '.' ? entry.name : `${dir.rel}/${entry.name}`;
        if (inArea) return unnamable(shown, 'can neither protect it nor check what a command does to it');
        if (entry.kind === 'dir') return unnamable(shown, 'cannot check what is inside it');
        // Decided on its lossy name: a rule's wildcards match the bytes that do not decode.
        if (entry.kind !== 'symlink' && req.decide('read', shown).decision === 'deny') return unnamable(shown, 'cannot hide it');
        continue;
      }
      const child = dir.child(entry.name);
      const rel = child.rel;
      if (entry.kind === 'symlink') {
        if (inArea && !mayChange(req.decide, rel)) links.set(rel, await readLinkText(child));
        continue;
      }
      if (entry.kind === 'dir') {
        if (coversTree(req.decide, rel, ['read']) || tooDeep(rel)) {
          hidden.push({ path: child.abs, kind: 'dir' });
          if (!tooDeep(rel)) hiddenForReads.push({ p: child, kind: 'dir' });
          continue;
        }
        const protectedWhole = inArea && (entry.name === '.git' || coversTree(req.decide, rel, WRITES));
        if (protectedWhole) readOnly.push(child.abs);
        // Below a protected directory nothing is writable, but a read-denied file may still need hiding.
        pending.push({ dir: child, writable: inArea && !protectedWhole });
        continue;
      }
      if (req.decide('read', rel).decision === 'deny') {
        hidden.push({ path: child.abs, kind: 'file' });
        hiddenForReads.push({ p: child, kind: 'file' });
        continue;
      }
      if (!inArea) continue;
      if (!mayChange(req.decide, rel)) {
        readOnly.push(child.abs);
        continue;
      }
      // A file with another name elsewhere: a write through this one would change that one too.
      const nlink = entry.nlink ?? entryStats(child)?.nlink ?? 1n;
      if (nlink > 1n) readOnly.push(child.abs);
    }
  }

  const aliases = await aliasesOfHidden(root, hiddenForReads, new Set(hidden.map((h) => h.path)));
  if (!aliases.ok) return aliases;
  for (const alias of aliases.paths) {
    hidden.push({ path: alias, kind: 'file' });
    const at = readOnly.indexOf(alias);
    if (at >= 0) readOnly.splice(at, 1);
  }

  const protectedCount = readOnly.length + hidden.length;
  if (protectedCount > MAX_PROTECTED_PATHS) {
    return {
      ok: false,
      reason:
        `the policy protects ${protectedCount.toLocaleString('en-US')} paths one by one (more than ${MAX_PROTECTED_PATHS.toLocaleString('en-US')}); ` +
        'cover directories whole with deny rules such as "dir/**", or narrow the allow rules, so the sandbox can protect them',
    };
  }
  return {
    ok: true,
    value: {
      plan: {
        workspace: root.abs,
        cwd: req.cwd.abs,
        argv: req.argv,
        writable: writable.map((p) => p.abs),
        readOnly: readOnly.sort(),
        hidden,
        pathDirs: req.pathDirs,
      },
      links,
    },
  };
}

/** `dev:ino` of a file: the same for every name of it. */
function inodeKey(stats: { dev: bigint; ino: bigint }): string {
  return `${stats.dev}:${stats.ino}`;
}

/** Past MAX_SCAN_ENTRIES entries. */
class TooManyEntries extends Error {}

/**
 * Every entry below `start` with its lstat, never following a link or
 * entering a directory `enter` refuses (nor one too deep, or with a name that
 * is not UTF-8). A directory that cannot be listed is skipped, or with
 * `strict` throws. Throws TooManyEntries past MAX_SCAN_ENTRIES.
 */
async function* entriesBelow(start: readonly CheckedPath[], strict: boolean, enter: (p: CheckedPath) => boolean = () => true) {
  const pending = [...start];
  let visited = 0;
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries;
    try {
      entries = await listDirectoryStats(dir);
    } catch (err) {
      if (strict) throw err;
      continue;
    }
    for (const entry of entries) {
      if (++visited > MAX_SCAN_ENTRIES) throw new TooManyEntries();
      yield { dir, ...entry };
      if (entry.stats.isDirectory() && entry.raw === undefined) {
        const child = dir.child(entry.name);
        if (!tooDeep(child.rel) && enter(child)) pending.push(child);
      }
    }
  }
}

/**
 * The identities of the files hidden for reads (those inside hidden
 * directories included) that have another name, a hard link, somewhere.
 */
async function linkedSecrets(hiddenForReads: ReadonlyArray<{ p: CheckedPath; kind: 'file' | 'dir' }>): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const { p, kind } of hiddenForReads) {
    if (kind === 'dir') continue;
    let stats;
    try {
      stats = entryStats(p);
    } catch {
      continue; // gone or swapped since it was listed: bubblewrap then refuses the plan
    }
    if (stats?.isFile() && stats.nlink > 1n) keys.add(inodeKey(stats));
  }
  const dirs = hiddenForReads.filter((h) => h.kind === 'dir').map((h) => h.p);
  try {
    // Hidden whole anyway: what cannot be listed there cannot be matched.
    for await (const { stats } of entriesBelow(dirs, false)) if (stats.isFile() && stats.nlink > 1n) keys.add(inodeKey(stats));
  } catch (err) {
    if (!(err instanceof TooManyEntries)) throw err;
  }
  return keys;
}

/**
 * Every other name in the workspace of a file hidden for reads: a hard link
 * `src/notes.txt` to `.env` would show the secret the hidden `.env` does not.
 * The second walk, with an lstat per entry, runs only when a hidden file has
 * another name at all.
 */
async function aliasesOfHidden(
  root: CheckedPath,
  hiddenForReads: ReadonlyArray<{ p: CheckedPath; kind: 'file' | 'dir' }>,
  hiddenPaths: ReadonlySet<string>,
): Promise<{ ok: true; paths: string[] } | { ok: false; reason: string }> {
  const secrets = await linkedSecrets(hiddenForReads);
  const paths: string[] = [];
  if (secrets.size === 0) return { ok: true, paths };
  try {
    for await (const { dir, name, raw, stats } of entriesBelow([root], true, (p) => !hiddenPaths.has(p.abs))) {
      if (!stats.isFile() || stats.nlink < 2n || !secrets.has(inodeKey(stats))) continue;
      if (raw !== undefined) return unnamable(dir.rel === '.' ? name : `${dir.rel}/${name}`, 'cannot hide it (it is another name of a file hidden for reads)');
      const abs = dir.child(name).abs;
      if (!hiddenPaths.has(abs)) paths.push(abs);
    }
  } catch (err) {
    if (err instanceof TooManyEntries) return TOO_MANY_ENTRIES;
    return { ok: false, reason: `the workspace could not be listed (${err instanceof Error ? err.message : String(err)})` };
  }
  return { ok: true, paths };
}
