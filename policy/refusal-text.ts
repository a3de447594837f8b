// The one line a model reads when the policy refuses: which rule, which path,
// and what its role may do instead. Never file content, never host paths.
import { quoteCommand } from './command-line.js';
import { describeCommandRule } from './commands.js';
import type { Action, CompiledPolicy, Decision, Role, Rule } from './types.js';

export function allowedInstead(policy: CompiledPolicy, role: Role, action: Action): string[] {
  if (action === 'read') return [];
  const src = policy.source;
  const rules: Rule[] = src.roles ? (src.roles[role]?.allow ?? []) : (src.mutations?.allow ?? []);
  return rules.filter((r) => !r.actions || r.actions.includes(action)).map((r) => r.pattern);
}

export function refusalText(policy: CompiledPolicy, role: Role, action: Action, rel: string, d: Decision): string {
  const verb = action === 'read' ? 'read' : action;
  const instead = allowedInstead(policy, role, action);
  const hint = action === 'read'
    ? ''
    : instead.length
      ? ` ${role} may ${verb}: ${instead.join(', ')}`
      : ` ${role} may not ${verb} any path.`;
  return `denied: ${role} may not ${verb} ${rel} (rule ${d.rule}: ${d.reason}).${hint}`;
}

/** The commands a role may run, as a reader sees them (`npm test …`), for a refusal's hint and the system prompt. */
export function allowedCommands(policy: CompiledPolicy, role: Role): string[] {
  const rules = (policy.rulesFor(role) as { commands: { allow: { argv: string[]; exact?: boolean }[] } }).commands.allow;
  return rules.map((r) => describeCommandRule({ argv: r.argv, exact: r.exact === true }));
}

/** One line for a refused command: which rule, why, and what the role may run instead. Never file content. */
export function commandRefusalText(policy: CompiledPolicy, role: Role, argv: readonly string[], d: Decision): string {
  const allowed = allowedCommands(policy, role);
  const hint = allowed.length ? ` ${role} may run: ${allowed.join('; ')}` : ` ${role} may not run any command.`;
  return `denied: ${role} may not run ${quoteCommand(argv, 300)} (rule ${d.rule}: ${d.reason}).${hint}`;
}
