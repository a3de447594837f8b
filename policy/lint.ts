// Warnings about a valid policy that probably does not say what its author
// meant: rules that can never match or never take effect, deny patterns
// that only protect the workspace root, and roles that cannot be reached or
// are not offered what their section lists. Pure: reads the compiled policy
// and what the caller says about tools.

import picomatch from 'picomatch';
import { lintCommands } from './command-lint.js';
import { RUN_COMMAND_TOOL, commandRulesInForce } from './commands.js';
import { collectRules, rulesInForce, type CompiledRule, type PolicyRules } from './decide.js';
import { isBuiltinRole, type CompiledPolicy, type MutationAction, type Role } from './types.js';

export interface LintWarning {
  /** where the rule lives, e.g. `roles.impl.allow[2]` */
  rule: string;
  message: string;
}

/**
 * What the runtime knows about tools (the policy layer does not import the
 * capabilities). Without it, tool-related warnings cover the built-in roles
 * only, as if each held a tool that changes files.
 */
export interface LintTools {
  /** The tools a session of `role` is offered. */
  offered(role: Role): readonly string[];
  /** Whether a tool can change files (and so needs allow rules to be of use). */
  mutates(tool: string): boolean;
}

export function lintPolicy(policy: CompiledPolicy, tools?: LintTools): LintWarning[] {
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
    for (const role of policy.roles) {
      const changesFiles = tools ? tools.offered(role).some((t) => tools.mutates(t)) : isBuiltinRole(role);
      if (!rules.roles[role].hasRules && changesFiles) {
        warnings.push({ rule: `roles.${role}`, message: `no rules for ${role}: with a roles section, every mutation by ${role} is denied` });
      }
    }
  } else {
    for (const r of rules.globalAllow) shadowed(r, rules.globalDeny, warnings);
  }
  for (const r of rules.globalApprove) shadowed(r, rules.globalDeny, warnings);
  for (const role of policy.roles) {
    const denies = rulesInForce(rules, role).deny;
    for (const r of [...rules.roles[role].approve, ...rules.roles[role].allow]) shadowed(r, denies, warnings);
  }
  warnings.push(...roleWarnings(policy, tools));
  warnings.push(...lintCommands(policy.source, tools && ((role) => tools.offered(role))));
  return warnings;
}

/** Roles nobody can reach, spawns that cannot happen, tools listed but not offered, a provider without a model. */
function roleWarnings(policy: CompiledPolicy, tools: LintTools | undefined): LintWarning[] {
  const out: LintWarning[] = [];
  const spawned = new Set(policy.roles.flatMap((r) => policy.spawnsFor(r)));
  for (const role of policy.roles) {
    const section = policy.section(role);
    const spawns = policy.spawnsFor(role);
    if (!isBuiltinRole(role) && !spawned.has(role)) {
      out.push({ rule: `roles.${role}`, message: `no role spawns ${role}: it runs only when started directly (agent:start --role ${role})` });
    }
    if (spawns.length > 0 && section?.spawns && policy.limits.max_depth === 0) {
      out.push({ rule: `roles.${role}.spawns`, message: 'never applies: limits.max_depth is 0, so no session may start another' });
    }
    if (tools && section?.tools) {
      const offered = new Set(tools.offered(role));
      const idle = section.tools.filter((t) => !offered.has(t));
      // Each listed tool left out for its own reason: run_command follows the commands rules, the rest `spawns`.
      const why = new Map<string, string[]>();
      for (const t of idle) {
        const reason = t === RUN_COMMAND_TOOL
          ? `${role} may run no command (no allow or approve rule in ${commandRulesInForce(policy.source, role).allowFrom})`
          : `the spawn tools follow roles.${role}.spawns (${spawns.join(', ') || 'none'})`;
        why.set(reason, [...(why.get(reason) ?? []), t]);
      }
      for (const [reason, left] of why) {
        out.push({ rule: `roles.${role}.tools`, message: `${left.join(', ')} ${left.length === 1 ? 'is' : 'are'} not offered: ${reason}` });
      }
    }
    if (section?.provider && !section.model) {
      out.push({
        rule: `roles.${role}.provider`,
        message: `${section.provider} without a model: sessions of ${role} use the run's model only when the run's provider is ${section.provider}, else ${section.provider}'s default; name one with roles.${role}.model`,
      });
    }
  }
  return out;
}

function allRules(rules: PolicyRules): CompiledRule[] {
  const out = [...rules.globalDeny, ...rules.globalApprove, ...rules.globalAllow, ...rules.readDeny];
  for (const role of Object.values(rules.roles)) out.push(...role.deny, ...role.approve, ...role.allow);
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
