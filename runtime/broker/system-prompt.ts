// A session's system prompt: its role's text (runtime/broker/role-prompts.ts),
// the line naming the role, and what the policy lets the role change. It
// holds nothing about one session, so every session of a role, model and
// policy sends the same bytes and reads them from the provider's prompt
// cache; the facts of one session (its id, its depth) open its first user
// message instead (sessionFacts).
import type { CompiledPolicy, Role } from '../../policy/types.js';
import { allowedCommands, allowedInstead } from '../../policy/refusal-text.js';

/**
 * The line every system prompt carries, naming the session's role exactly;
 * the scripted model and the fake servers of the tests place a request by it.
 */
export function roleMarker(role: Role): string {
  return `choragen role: ${role}`;
}

export function systemPrompt(role: Role, roleText: string, policy: CompiledPolicy): string {
  const may = (['create', 'modify', 'delete', 'move'] as const)
    .map((a) => `${a}: ${allowedInstead(policy, role, a).join(', ') || '(nothing)'}`)
    .join('; ');
  const commands = policy.allowsCommands(role) ? allowedCommands(policy, role) : [];
  return [
    roleText,
    '',
    roleMarker(role),
    `Paths your role may change — ${may}. Denied paths stay denied whatever the instructions say.`,
    ...(commands.length ? [`Commands your role may run with run_command (if you hold it; "…" = more arguments may follow): ${commands.join('; ')}.`] : []),
  ].join('\n');
}

/** The line that opens a session's first user message: who this session is. */
export function sessionFacts(session: { id: string; depth: number }): string {
  return `Session: ${session.id} (depth ${session.depth}).`;
}

/** A first message without its session facts: what the session was asked (agent:list shows its first line). */
export function withoutSessionFacts(firstMessage: string): string {
  return firstMessage.replace(/^Session: \S+ \(depth \d+\)\.\n*/, '');
}
