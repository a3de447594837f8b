// Paths no session may touch whatever the governance file says (DESIGN.md §5:
// "the broker writes them; sessions cannot"): choragen's own records under
// `.choragen/` (audit log, metrics, transcripts: they also name host paths),
// git internals at any depth (a hook or `core.fsmonitor` in any `.git` runs
// code the next time someone runs git there; `.git/config` may hold
// credentials), and the governance file in force, which a session must not
// rewrite.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { foldPath } from './case-folding.js';
import type { Action, CompiledPolicy, Decision, Role } from './types.js';

export const PROTECTED_RULE = 'builtin.protected';

const RECORDS: Decision = Object.freeze({
  decision: 'deny', rule: PROTECTED_RULE, reason: "choragen's own records (.choragen/) are written and read by the broker only",
});
const GIT: Decision = Object.freeze({
  decision: 'deny', rule: PROTECTED_RULE, reason: 'git internals (a .git at any depth) run code on the next git command; only git changes them',
});
const POLICY: Decision = Object.freeze({
  decision: 'deny', rule: PROTECTED_RULE, reason: 'the governance file in force is never changed by a session',
});

/** The governance file's canonical workspace-relative path (symlinks resolved), or null when it lies outside the workspace. */
export function policyRelPath(workspace: string, policyFile: string): string | null {
  let abs = path.resolve(policyFile); // as loaded: relative to the working directory
  try {
    abs = realpathSync(abs);
  } catch {
    // gone since it was loaded: compare the path as given
  }
  const rel = path.relative(workspace, abs).split(path.sep).join('/');
  return rel === '' || rel === '..' || rel.startsWith('../') || path.isAbsolute(rel) ? null : rel;
}

/** A deny when `rel` (canonical) is protected for `action`, else null: the policy decides. Pure. */
export function protectedDecision(rel: string, action: Action, policyRel: string | null): Decision | null {
  if (rel === '.choragen' || rel.startsWith('.choragen/')) return RECORDS;
  if (hasGitComponent(rel)) return GIT;
  if (action !== 'read' && policyRel !== null && rel === policyRel) return POLICY;
  return null;
}

function hasGitComponent(rel: string): boolean {
  return rel === '.git' || rel.startsWith('.git/') || rel.endsWith('/.git') || rel.includes('/.git/');
}

/**
 * The broker's decision: the policy's, except that a protected path is denied
 * even where the policy would let it through. An explicit deny keeps its own
 * rule id, so reviewers see the rule they wrote. `foldsCase`: the workspace
 * is case-insensitive, so the decision is made on the folded path.
 */
export function decideGuarded(policy: CompiledPolicy, policyRel: string | null, role: Role, action: Action, rel: string, foldsCase = false): Decision {
  const d = (foldsCase ? policy.folded() : policy).decide(role, action, rel);
  if (d.decision === 'deny') return d;
  if (!foldsCase) return protectedDecision(rel, action, policyRel) ?? d;
  return protectedDecision(foldPath(rel), action, policyRel === null ? null : foldPath(policyRel)) ?? d;
}
