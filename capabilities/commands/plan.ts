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
//              directory whole when a rule covers it whole); `.choragen`
//
// Symlinks are never mounted (bubblewrap would follow them); a symlink in a
// writable area that the role may not change is put back after the run.

import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import type { Decision, MutationAction } from '../../policy/types.js';
import { isWithin, type HiddenPath, type SandboxPlan } from '../sandbox/plan.js';

export type Decide = (action: MutationAction | 'read', rel: string) => Decision;

export interface PlanRequest {
  /** Real path of the workspace. */
  workspace: string;
  /** Real path of the working directory, inside the workspace. */
  cwd: string;
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

async function isRealPath(abs: string): Promise<boolean> {
  try {
    return !(await fsp.lstat(abs)).isSymbolicLink() && (await fsp.realpath(abs)) === abs;
  } catch {
    return false;
  }
}

/** The writable areas: each base that exists as its own real path and lies in nothing hidden or protected whole. */
async function writableAreas(req: PlanRequest): Promise<string[]> {
  const areas: string[] = [];
  for (const base of req.writableBases) {
    const parts = base === '.' ? [] : base.split('/');
    const blocked = parts.some((_, i) => {
      const prefix = parts.slice(0, i + 1).join('/');
      return isGitPath(prefix) || coversTree(req.decide, prefix, ['read']) || coversTree(req.decide, prefix, WRITES);
    });
    const abs = path.join(req.workspace, ...parts);
    if (!blocked && (await isRealPath(abs))) areas.push(abs);
  }
  return areas;
}

export async function planCommand(req: PlanRequest): Promise<PlanResult> {
  const ws = req.workspace;
  const writable = await writableAreas(req);
  const readOnly: string[] = [];
  const hidden: HiddenPath[] = [];
  const links = new Map<string, string>();
  const relOf = (abs: string) => path.relative(ws, abs).split(path.sep).join('/');
  let visited = 0;

  // Directories to list, and whether what is in them may be written.
  const pending: Array<{ abs: string; writable: boolean }> = [{ abs: ws, writable: writable.includes(ws) }];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(dir.abs, { withFileTypes: true });
    } catch {
      // Neither can the command, which runs as the same uid; but where it may write it could chmod the
      // directory and look inside, at files this walk never saw: hide it whole there.
      if (dir.writable && dir.abs !== ws) hidden.push({ path: dir.abs, kind: 'dir' });
      continue;
    }
    for (const entry of entries) {
      if (++visited > MAX_SCAN_ENTRIES) {
        return { ok: false, reason: `the workspace holds more than ${MAX_SCAN_ENTRIES.toLocaleString('en-US')} entries, too many to plan a sandbox for` };
      }
      const abs = path.join(dir.abs, entry.name);
      const rel = relOf(abs);
      const inArea = dir.writable || writable.includes(abs);
      if (entry.isSymbolicLink()) {
        if (inArea && !mayChange(req.decide, rel)) links.set(rel, await fsp.readlink(abs));
        continue;
      }
      if (entry.isDirectory()) {
        if (coversTree(req.decide, rel, ['read'])) {
          hidden.push({ path: abs, kind: 'dir' });
          continue;
        }
        const protectedWhole = inArea && (entry.name === '.git' || coversTree(req.decide, rel, WRITES));
        if (protectedWhole) readOnly.push(abs);
        // Below a protected directory nothing is writable, but a read-denied file may still need hiding.
        pending.push({ abs, writable: inArea && !protectedWhole });
        continue;
      }
      if (req.decide('read', rel).decision === 'deny') {
        hidden.push({ path: abs, kind: 'file' });
        continue;
      }
      if (!inArea) continue;
      if (!mayChange(req.decide, rel)) {
        readOnly.push(abs);
        continue;
      }
      // A file with another name elsewhere: a write through this one would change that one too.
      const st = await fsp.lstat(abs).catch(() => null);
      if (st !== null && st.nlink > 1) readOnly.push(abs);
    }
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
  if (!isWithin(req.cwd, ws)) return { ok: false, reason: 'the working directory is outside the workspace' };
  return {
    ok: true,
    value: {
      plan: { workspace: ws, cwd: req.cwd, argv: req.argv, writable, readOnly: readOnly.sort(), hidden, pathDirs: req.pathDirs },
      links,
    },
  };
}
