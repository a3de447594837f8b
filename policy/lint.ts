// Warnings about a valid policy that probably does not say what its author
// meant: rules that can never match or never take effect, and deny patterns
// that only protect the workspace root. Pure: reads the compiled policy only.

import picomatch from 'picomatch';
import { lintCommands } from './command-lint.js';
import { collectRules, rulesInForce, type CompiledRule, type PolicyRules } from './decide.js';
import { ROLES, type CompiledPolicy, type MutationAction } from './types.js';

export interface LintWarning {
  /** where the rule lives, e.g. `roles.impl.allow[2]` */
  rule: string;
  message: string;
}

export function lintPolicy(policy: CompiledPolicy): LintWarning[] {
  const rules = collectRules(policy.source);
  const warnings: LintWarning[] = [];
  const all = allRules(rules);

  for (const r of all) {
    const impossible = impossibleReason(r.pattern);
    if (impossible) warnings.push({ rule: r.id, message: `pattern "${r.pattern}" can never match: ${impossible}` });
  }

  for (const r of all) {
    if (isDenyRule(r.id) && rootOnly(r.pattern)) {
      warnings.push({
        rule: r.id,
        message: `pattern "${r.pattern}" has no "/", so it only matches at the workspace root; write "**/${r.pattern}" to match in every directory`,
      });
    }
  }

  if (rules.hasRoles) {
    for (const r of rules.globalAllow) {
      warnings.push({ rule: r.id, message: 'never applies: when a roles section exists, each role\'s own allow rules replace mutations.allow' });
    }
    for (const role of ROLES) {
      if (!rules.roles[role].hasRules) {
        warnings.push({ rule: `roles.${role}`, message: `no rules for ${role}: with a roles section, every mutation by ${role} is denied` });
      }
    }
  } else {
    for (const r of rules.globalAllow) shadowed(r, rules.globalDeny, warnings);
  }
  for (const r of rules.globalApprove) shadowed(r, rules.globalDeny, warnings);
  for (const role of ROLES) {
    const denies = rulesInForce(rules, role).deny;
    for (const r of [...rules.roles[role].approve, ...rules.roles[role].allow]) shadowed(r, denies, warnings);
  }
  warnings.push(...lintCommands(policy.source));
  return warnings;
}

function allRules(rules: PolicyRules): CompiledRule[] {
  const out = [...rules.globalDeny, ...rules.globalApprove, ...rules.globalAllow, ...rules.readDeny];
  for (const role of ROLES) out.push(...rules.roles[role].deny, ...rules.roles[role].approve, ...rules.roles[role].allow);
  return out;
}

function isDenyRule(id: string): boolean {
  return /(^|\.)deny\[\d+\]$/.test(id);
}

function isGlob(pattern: string): boolean {
  return picomatch.scan(pattern).isGlob;
}

/** `.env` or `*.key`: a deny that looks meant for every directory but only covers the root. */
function rootOnly(pattern: string): boolean {
  return !pattern.includes('/') && (isGlob(pattern) || pattern.startsWith('.')) && pattern !== '**' && !pattern.startsWith('**');
}

/** Canonical paths are relative, with no `.`/`..` segments and no trailing `/`. */
function impossibleReason(pattern: string): string | null {
  if (pattern.startsWith('/')) return 'paths are matched relative to the workspace root, never absolute';
  const segments = pattern.replace(/^\.\//, '').split('/');
  if (segments.includes('..')) return 'canonical paths never contain ".."';
  if (segments.slice(0, -1).includes('.')) return 'canonical paths never contain "." segments';
  if (pattern.length > 1 && pattern.endsWith('/')) return `canonical paths have no trailing "/"; write "${pattern}**" for everything below it`;
  return null;
}

/** Whether every path `inner` matches is also matched by `outer` (sound, not complete). */
function covers(outer: CompiledRule, inner: CompiledRule): boolean {
  if (outer.pattern === inner.pattern) return true;
  if (outer.pattern === '**' || outer.pattern === '**/*') return true;
  if (!isGlob(inner.pattern)) return outer.test(inner.pattern.replace(/^\.\//, ''));
  const m = /^(.*)\/\*\*$/.exec(outer.pattern);
  return !!m && !isGlob(m[1]) && inner.pattern.startsWith(`${m[1]}/`);
}

function shadowed(rule: CompiledRule, denies: readonly CompiledRule[], warnings: LintWarning[]): void {
  const dead: MutationAction[] = [];
  const by = new Set<string>();
  for (const action of rule.actions) {
    const deny = denies.find((d) => d.actions.includes(action) && covers(d, rule));
    if (deny) {
      dead.push(action);
      by.add(deny.id);
    }
  }
  if (dead.length === 0) return;
  const denied = [...by].join(', ');
  warnings.push({
    rule: rule.id,
    message:
      dead.length === rule.actions.length
        ? `can never apply: every action it covers (${dead.join(', ')}) is denied by ${denied}`
        : `never applies to ${dead.join(', ')}: denied by ${denied}`,
  });
}
