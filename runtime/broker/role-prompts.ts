// The text each role's system prompt starts with. control and impl ship
// theirs (runtime/prompts/<role>.md); a role defined only in the file gets a
// generic one built from its description; a role with `prompt` gets that
// workspace file.
//
// A prompt file is read the way a tool reads: canonicalized (symlinks
// resolved, nothing outside the workspace), asked of the policy (a file the
// policy will not let sessions read never reaches a model provider), then
// opened without following links, as a regular file of bounded size. Every
// problem is a configuration error naming the file, the line and the key.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalize } from '../../policy/canonical.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import { policyKeyError } from '../../policy/load.js';
import { decideGuarded, policyRelPath } from '../../policy/protected-paths.js';
import { isBuiltinRole, type CompiledPolicy, type Role } from '../../policy/types.js';
import { readSmallSync } from '../../capabilities/fs/authority.js';
import { workspaceFoldsCase } from '../../policy/case-folding.js';
import { packageRoot } from '../paths.js';
import { roleDescription } from './grants.js';

/** A prompt file larger than this is refused: it would be sent with every model call. */
export const MAX_PROMPT_BYTES = 100_000;

export interface RolePrompt {
  /** `built-in` or the workspace path the text was read from. */
  source: string;
  text: string;
}

const builtins = new Map<string, string>();

function shipped(name: string): string {
  let text = builtins.get(name);
  if (text === undefined) builtins.set(name, (text = readFileSync(path.join(packageRoot, 'runtime', 'prompts', `${name}.md`), 'utf8').trim()));
  return text;
}

/** The prompt of `role` when its section names no file. */
export function builtinPrompt(policy: CompiledPolicy, role: Role): string {
  if (isBuiltinRole(role)) return shipped(role);
  return shipped('role').replaceAll('{{role}}', role).replaceAll('{{description}}', roleDescription(policy, role).replace(/\.$/, ''));
}

/** The prompts of `roles`, each read once; throws PolicyError on the first that cannot be used. */
export async function loadRolePrompts(workspace: string, policy: CompiledPolicy, roles: Iterable<Role>): Promise<Map<Role, RolePrompt>> {
  const out = new Map<Role, RolePrompt>();
  for (const role of roles) {
    const file = policy.section(role)?.prompt;
    out.set(role, file === undefined ? { source: 'built-in', text: builtinPrompt(policy, role) } : { source: file, text: await readPromptFile(workspace, policy, role, file) });
  }
  return out;
}

async function readPromptFile(workspace: string, policy: CompiledPolicy, role: Role, file: string): Promise<string> {
  const fail = (message: string) => policyKeyError(policy, ['roles', role, 'prompt'], message);
  let bytes: Buffer | null;
  try {
    const target = await canonicalize(workspace, file);
    const d = decideGuarded(policy, policyRelPath(workspace, policy.file), role, 'read', target.rel, workspaceFoldsCase(workspace));
    if (d.decision === 'deny') throw fail(`prompt file ${file} may not be read (${d.rule}: ${d.reason})`);
    if (!target.exists) throw fail(`prompt file ${file} does not exist`);
    bytes = readSmallSync(target, MAX_PROMPT_BYTES)?.whole ?? null;
  } catch (err) {
    // A path outside the workspace, a symlink swapped in, a directory, a FIFO: the tool errors say which.
    if (err instanceof ToolRefusal || err instanceof ToolFailure) throw fail(`prompt file ${file}: ${err.message}`);
    throw err;
  }
  if (bytes === null) throw fail(`prompt file ${file} is larger than ${MAX_PROMPT_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes).trim();
  } catch {
    throw fail(`prompt file ${file} is not UTF-8 text`);
  }
  if (text === '') throw fail(`prompt file ${file} is empty`);
  return text;
}
