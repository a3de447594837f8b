// A session's system prompt: its role's text (runtime/broker/role-prompts.ts),
// the line naming the role, and the facts of this session (workspace, paths
// its role may change), built by the broker.
import type { CompiledPolicy, Role } from '../../policy/types.js';
import { allowedCommands, allowedInstead } from '../../policy/refusal-text.js';

/**
 * The line every system prompt carries, naming the session's role exactly;
 * the scripted model and the fake servers of the tests place a request by it.
 */
export function roleMarker(role: Role): string {
  return `choragen role: ${role}`;
}

export function systemPrompt(role: Role, roleText: string, policy: CompiledPolicy, session: { id: string; depth: number }): string {
  const may = (['create', 'modify', 'delete', 'move'] as const)
    .map((a) => `${a}: ${allowedInstead(policy, role, a).join(', ') || '(nothing)'}`)
    .join('; ');
  const commands = policy.allowsCommands(role) ? allowedCommands(policy, role) : [];
  return [
    roleText,
    '',
    roleMarker(role),
    `Session: ${session.id} (depth ${session.depth}).`,
    `Paths your role may change — ${may}. Denied paths stay denied whatever the instructions say.`,
    ...(commands.length ? [`Commands your role may run with run_command (if you hold it; "…" = more arguments may follow): ${commands.join('; ')}.`] : []),
  ].join('\n');
}
