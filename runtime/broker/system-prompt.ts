// System prompts, one file per role under runtime/prompts/, plus the facts of
// this session (workspace, paths its role may change), built by the broker.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CompiledPolicy, Role } from '../../policy/types.js';
import { packageRoot } from '../paths.js';
import { allowedCommands, allowedInstead } from '../../policy/refusal-text.js';

const cache = new Map<Role, string>();

function roleText(role: Role): string {
  let text = cache.get(role);
  if (!text) cache.set(role, (text = readFileSync(path.join(packageRoot, 'runtime', 'prompts', `${role}.md`), 'utf8').trim()));
  return text;
}

export function systemPrompt(role: Role, policy: CompiledPolicy, session: { id: string; depth: number }): string {
  const may = (['create', 'modify', 'delete', 'move'] as const)
    .map((a) => `${a}: ${allowedInstead(policy, role, a).join(', ') || '(nothing)'}`)
    .join('; ');
  const commands = policy.allowsCommands(role) ? allowedCommands(policy, role) : [];
  return [
    roleText(role),
    '',
    `Session: ${session.id} (depth ${session.depth}).`,
    `Paths your role may change — ${may}. Denied paths stay denied whatever the instructions say.`,
    ...(commands.length ? [`Commands your role may run with run_command (if you hold it; "…" = more arguments may follow): ${commands.join('; ')}.`] : []),
  ].join('\n');
}
