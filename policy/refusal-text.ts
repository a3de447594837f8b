// The one line a model reads when the policy refuses: which rule, which path,
// and what its role may do instead. Never file content, never host paths.
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
