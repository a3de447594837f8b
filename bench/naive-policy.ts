// The baseline the policy benchmark compares against: a decision function that
// walks the governance file's rules on every call and turns each glob into a
// RegExp on the spot, the way a first implementation would. Same decision
// order as policy/decide.ts (deny -> approve -> allow -> default deny; reads
// only by reads.deny), so both must agree on every path of the mix.
import type { Action, GovernanceFile, Role, Rule, Verdict } from '../policy/types.js';

const SPECIAL = /[\\^$.|+()[\]{}]/;

/** A glob (picomatch subset: `**`, `*`, `?`, `{a,b}`, dotfiles matched) as a regex source. */
export function globToRegexSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const atStart = i === 0 || glob[i - 1] === '/';
      const slashAfter = glob[i + 2] === '/';
      const atEnd = i + 2 === glob.length;
      if (atStart && slashAfter) {
        out += '(?:[^/]*(?:/[^/]*)*/)?'; // `**/`: any number of leading directories, none included
        i += 2;
      } else if (atStart && atEnd && out.endsWith('/')) {
        out = out.slice(0, -1) + '(?:/.*)?'; // `dir/**`: the directory itself or anything below it
        i += 1;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '{') {
      const close = glob.indexOf('}', i);
      if (close < 0) out += '\\{';
      else {
        out += `(?:${glob.slice(i + 1, close).split(',').map((alt) => globToRegexSource(alt)).join('|')})`;
        i = close;
      }
    } else out += SPECIAL.test(c) ? `\\${c}` : c;
  }
  return out;
}

function matches(rule: Rule, path: string): boolean {
  return new RegExp(`^${globToRegexSource(rule.pattern)}$`).test(path); // compiled per call, on purpose
}

function applies(rule: Rule, action: Action): boolean {
  return !rule.actions || rule.actions.length === 0 || rule.actions.includes(action as never);
}

/** The verdict of the naive matcher (no rule ids or reasons: the bench compares verdicts). */
export function naiveDecide(source: GovernanceFile, role: Role, action: Action, path: string): Verdict {
  if (action === 'read') {
    for (const rule of source.reads?.deny ?? []) if (matches(rule, path)) return 'deny';
    return 'allow';
  }
  const own = source.roles?.[role];
  const roleGoverned = source.roles !== undefined;
  const ownHasRules = !!own && ((own.allow?.length ?? 0) + (own.approve?.length ?? 0) + (own.deny?.length ?? 0)) > 0;
  for (const rule of [...(source.mutations?.deny ?? []), ...(own?.deny ?? [])]) {
    if (applies(rule, action) && matches(rule, path)) return 'deny';
  }
  if (roleGoverned && !ownHasRules) return 'deny';
  for (const rule of [...(source.mutations?.approve ?? []), ...(own?.approve ?? [])]) {
    if (applies(rule, action) && matches(rule, path)) return 'approve';
  }
  const allow = roleGoverned ? own?.allow ?? [] : source.mutations?.allow ?? [];
  for (const rule of allow) if (applies(rule, action) && matches(rule, path)) return 'allow';
  return 'deny';
}
