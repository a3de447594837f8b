// policy:lint for the `commands` rules: rules that can never match or never
// take effect (an allow shadowed by a deny, a shell or inline code the
// built-in guard always refuses, an empty argument), and rules for a role
// that is never offered run_command. Pure.

import picomatch from 'picomatch';
import { guardCommand } from './command-guard.js';
import { RUN_COMMAND_TOOL, allCommandRules, commandRulesInForce, isGlobElement as isGlob, type CompiledCommandRule } from './commands.js';
import { ROLES, type GovernanceFile, type Role } from './types.js';

export interface CommandLintWarning {
  rule: string;
  message: string;
}

/** The roles offered run_command when their section lists no tools (DESIGN.md §3). */
const DEFAULT_RUN_COMMAND_ROLES: readonly Role[] = ['impl'];


/** Whether every argv `inner` matches is also matched by `outer`. Sound, not complete. */
function covers(outer: CompiledCommandRule, inner: CompiledCommandRule): boolean {
  if (outer.argv.length > inner.argv.length) return false;
  if (outer.exact && !(inner.exact && inner.argv.length === outer.argv.length)) return false;
  return outer.argv.every((el, i) => {
    const other = inner.argv[i]!;
    if (el === other) return true;
    if (!isGlob(el) || isGlob(other)) return false;
    return picomatch(el, { dot: true })(other);
  });
}

/** Shells a glob for argv[0] would let through the rule (the guard still refuses them). */
const SAMPLE_SHELLS = ['sh', 'bash', '/bin/sh'];

/**
 * `offered`: the tools a session of a role is offered, when the caller knows
 * (the runtime does); without it, the defaults of DESIGN.md §3 are assumed.
 */
export function lintCommands(source: GovernanceFile, offered?: (role: Role) => readonly string[]): CommandLintWarning[] {
  const warnings: CommandLintWarning[] = [];
  const all = allCommandRules(source);
  const isDeny = (r: CompiledCommandRule) => /\.deny\[\d+\]$/.test(r.id);

  for (const r of all) {
    r.argv.forEach((el, i) => {
      if (el === '') warnings.push({ rule: r.id, message: `argv[${i}] is empty: it matches only an empty argument, which is probably not what was meant` });
    });
    if (isDeny(r)) continue;
    const argv0 = r.argv[0]!;
    if (isGlob(argv0)) {
      const shell = SAMPLE_SHELLS.find((s) => picomatch(argv0, { dot: true })(s));
      if (shell) {
        warnings.push({
          rule: r.id,
          message: `argv[0] "${argv0}" matches any program (even "${shell}"): shells are refused anyway, but every other program would run; name the program`,
        });
      }
      continue;
    }
    const firstGlob = r.argv.findIndex(isGlob);
    const literalPrefix = firstGlob >= 0 ? r.argv.slice(0, firstGlob) : r.argv;
    const refusal = guardCommand(literalPrefix);
    if (refusal) warnings.push({ rule: r.id, message: `can never apply: run_command always refuses it (${refusal.rule}: ${refusal.reason})` });
  }

  const roles = [...new Set<string>([...ROLES, ...Object.keys(source.roles ?? {})])] as Role[];
  const holds = (role: Role): boolean => {
    const tools = source.roles?.[role]?.tools;
    return offered ? offered(role).includes(RUN_COMMAND_TOOL) : tools ? tools.includes(RUN_COMMAND_TOOL) : DEFAULT_RUN_COMMAND_ROLES.includes(role);
  };
  // A role's own `commands` section replaces the global allow rules, even when it lists none.
  const usingGlobalAllow = roles.filter((role) => holds(role) && source.roles?.[role]?.commands === undefined);
  if (usingGlobalAllow.length === 0) {
    const holders = roles.filter(holds);
    for (const r of all.filter((rule) => /^commands\.allow\[\d+\]$/.test(rule.id))) {
      warnings.push({
        rule: r.id,
        message: holders.length
          ? `never applies: every role offered run_command (${holders.join(', ')}) has its own roles.<role>.commands, whose allow rules replace commands.allow`
          : 'never applies: no role is offered run_command',
      });
    }
  }
  const reported = new Set<string>();
  for (const role of roles) {
    const inForce = commandRulesInForce(source, role);
    for (const r of [...inForce.approve, ...inForce.allow]) {
      const deny = inForce.deny.find((d) => covers(d, r));
      if (deny && !reported.has(r.id)) {
        reported.add(r.id);
        // A global rule denied by another role's rule is still of use to the others.
        const forRole = r.id.startsWith('commands.') && !deny.id.startsWith('commands.') ? ` for ${role}` : '';
        warnings.push({ rule: r.id, message: `can never apply${forRole}: every command it matches is denied by ${deny.id}` });
      }
    }
    for (const r of inForce.allow) {
      const approve = inForce.approve.find((a) => covers(a, r));
      if (approve && !reported.has(r.id)) {
        reported.add(r.id);
        warnings.push({ rule: r.id, message: `never allows without a human: ${approve.id} matches every command it does, and approve comes first` });
      }
    }
    // Global rules reach every role that is offered the tool; a role's own rules are a mistake if it is not.
    const own = source.roles?.[role]?.commands;
    if ((own?.allow?.length ?? 0) + (own?.approve?.length ?? 0) === 0) continue;
    const tools = source.roles?.[role]?.tools;
    if (!holds(role)) {
      warnings.push({
        rule: `roles.${role}.commands`,
        message: tools
          ? `never applies: roles.${role}.tools does not list run_command, so ${role} is never offered it`
          : `never applies: ${role} is not offered run_command by default; list it in roles.${role}.tools`,
      });
    }
  }
  return warnings;
}
