// Which tools a session holds. Pure: the broker builds sessions with it and
// `capabilities:manifest` prints it, so the two cannot drift apart.
import type { CompiledPolicy, Role } from '../../policy/types.js';
import type { Capability } from '../../capabilities/capability.js';
import { UsageError } from '../../policy/errors.js';
import { RUN_COMMAND_TOOL } from '../../policy/commands.js';

export const SPAWN_TOOL = 'spawn_impl_session';

/**
 * The role's tools: `roles.<role>.tools` from the policy, else the defaults of
 * DESIGN.md §3. run_command only while the role's `commands` rules allow (or
 * give to approval) at least one command: a tool that can only refuse is noise.
 */
export function roleTools(policy: CompiledPolicy, role: Role, registry: ReadonlyMap<string, Capability>): string[] {
  const listed = policy.toolsFor(role);
  if (listed) {
    const unknown = listed.filter((name) => !registry.has(name));
    if (unknown.length) {
      throw new UsageError(`${policy.file}: roles.${role}.tools names unknown tool(s): ${unknown.join(', ')} (known: ${[...registry.keys()].join(', ')})`);
    }
  }
  const tools = listed ? [...listed] : [...registry.values()].filter((c) => c.defaultRoles.includes(role)).map((c) => c.name);
  return policy.allowsCommands(role) ? tools : tools.filter((t) => t !== RUN_COMMAND_TOOL);
}

export interface Grant {
  tools: string[];
  /** The authority a session may hand to children: its own tools plus, if it may spawn, the child role's. */
  envelope: Set<string>;
}

/** A root session's grant: its role's tools; if it can spawn, it can delegate impl's tools. */
export function rootGrant(own: string[], implTools: string[]): Grant {
  const envelope = new Set(own);
  if (envelope.has(SPAWN_TOOL)) for (const t of implTools) envelope.add(t);
  return { tools: own, envelope };
}

/** A child's grant: the intersection of its role's tools and its parent's envelope. */
export function childGrant(roleToolsOfChild: string[], parentEnvelope: ReadonlySet<string>): Grant {
  const tools = roleToolsOfChild.filter((t) => parentEnvelope.has(t));
  return { tools, envelope: new Set(tools) };
}
