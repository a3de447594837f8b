// Where a role's commands may write, read from its allow rules: the static
// base of each glob (`src/**/*.ts` -> `src`), the whole workspace for a glob
// without one (`**/*.test.js`, `{src,lib}/**`). Pure. It is a superset: the
// sandbox plan protects what inside these areas the role may not change, and
// the broker checks every change afterwards (capabilities/commands/).
//
// Approve rules open nothing: a command cannot stop to ask a human about each
// file it writes, so a path that needs approval stays read-only to commands.

import picomatch from 'picomatch';
import { collectRules, rulesInForce } from './decide.js';
import type { CompiledPolicy, Role } from './types.js';

/** `.` for the whole workspace; otherwise workspace-relative paths, none inside another, sorted. */
export function writableBases(policy: CompiledPolicy, role: Role): string[] {
  const allow = rulesInForce(collectRules(policy.source), role).allow;
  const bases = new Set<string>();
  for (const rule of allow) {
    const base = staticBase(rule.pattern);
    if (base === null) continue;
    bases.add(base);
  }
  if (bases.has('.')) return ['.'];
  const sorted = [...bases].sort();
  return sorted.filter((b) => !sorted.some((other) => other !== b && b.startsWith(`${other}/`)));
}

/** The literal directory (or file) a pattern starts with; `.` when it has none; null when it can never match a canonical path. */
export function staticBase(pattern: string): string | null {
  const trimmed = pattern.replace(/^(\.\/)+/, '');
  const scanned = picomatch.scan(trimmed);
  // An escaped character in the base is read as a glob: widen to the workspace rather than guess.
  const base = scanned.base.includes('\\') ? '' : scanned.base.replace(/\/+$/, '');
  if (base === '' || base === '.') return '.';
  const segments = base.split('/');
  if (base.startsWith('/') || segments.includes('..') || segments.includes('.') || segments.includes('')) return null;
  return base;
}
