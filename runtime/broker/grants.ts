// Which tools a session holds. Pure: the broker builds sessions with it and
// `capabilities:manifest` prints it, so the two cannot drift apart.
//
// A role's tools: `roles.<role>.tools`, else the defaults (DESIGN.md §3; a
// role defined only in the file gets the read-only ones). The spawn tools
// follow `spawns` (CompiledPolicy.spawnsFor): spawn_impl_session only while
// the role may start impl, spawn_session whenever it may start a role
// spawn_impl_session does not cover (or its `tools` lists it).
//
// The envelope: what a session may hand on to children. It is the session's
// own tools plus the tools of every role it may start, transitively, as deep
// as --max-depth lets the tree go; a child holds its role's tools ∩ its
// parent's envelope, and hands on no more than that envelope either.
import { BUILTIN_ROLE_DESCRIPTIONS, SPAWN_IMPL_TOOL, isBuiltinRole, type CompiledPolicy, type Role } from '../../policy/types.js';
import type { Capability, ToolOffer } from '../../capabilities/capability.js';
import { UsageError } from '../../policy/errors.js';
import { RUN_COMMAND_TOOL } from '../../policy/commands.js';

export const SPAWN_TOOL = SPAWN_IMPL_TOOL;
export const SPAWN_SESSION_TOOL = 'spawn_session';

/** What a role defined only in the file is offered when its section lists no tools: reading, and reporting back. */
export const READ_ONLY_DEFAULTS: readonly string[] = [
  'read_file', 'list_files', 'search_files', 'git_status', 'git_diff', 'chain_status', 'task_list', 'complete_task',
];

type Registry = ReadonlyMap<string, Capability>;

/**
 * The tools a session of `role` is offered. run_command only while the role's
 * `commands` rules allow (or give to approval) at least one command: a tool
 * that can only refuse is noise.
 */
export function roleTools(policy: CompiledPolicy, role: Role, registry: Registry): string[] {
  const listed = policy.toolsFor(role);
  if (listed) {
    // The loader rejects unknown names when it is given the registry's; a policy parsed without them is checked here.
    const unknown = listed.filter((name) => !registry.has(name));
    if (unknown.length) {
      throw new UsageError(`${policy.file}: roles.${role}.tools names unknown tool(s): ${unknown.join(', ')} (known: ${[...registry.keys()].join(', ')})`);
    }
  }
  const base = listed ?? defaultTools(role, registry);
  const spawns = policy.spawnsFor(role);
  let tools = base.filter((t) => t !== SPAWN_SESSION_TOOL && (t !== SPAWN_TOOL || spawns.includes('impl')));
  const covered = tools.includes(SPAWN_TOOL) ? ['impl'] : [];
  const listsSpawnSession = !!listed?.includes(SPAWN_SESSION_TOOL);
  if (spawns.length > 0 && registry.has(SPAWN_SESSION_TOOL) && (listsSpawnSession || spawns.some((r) => !covered.includes(r)))) {
    if (listsSpawnSession) tools = listed!.filter((t) => t === SPAWN_SESSION_TOOL || tools.includes(t));
    else tools.splice(tools.includes(SPAWN_TOOL) ? tools.indexOf(SPAWN_TOOL) + 1 : tools.length, 0, SPAWN_SESSION_TOOL);
  }
  return policy.allowsCommands(role) ? tools : tools.filter((t) => t !== RUN_COMMAND_TOOL);
}

function defaultTools(role: Role, registry: Registry): string[] {
  if (isBuiltinRole(role)) return [...registry.values()].filter((c) => c.defaultRoles.includes(role)).map((c) => c.name);
  return READ_ONLY_DEFAULTS.filter((name) => registry.has(name));
}

/** One line about a role, for a parent that may start it. */
export function roleDescription(policy: CompiledPolicy, role: Role): string {
  return policy.section(role)?.description ?? (isBuiltinRole(role) ? BUILTIN_ROLE_DESCRIPTIONS[role] : `the ${role} role`);
}

/** What a session of `role` is offered besides tool names: the roles it may start, described. */
export function toolOffer(policy: CompiledPolicy, role: Role): ToolOffer {
  return { spawns: policy.spawnsFor(role).map((name) => ({ name, description: roleDescription(policy, name) })) };
}

export interface Grant {
  tools: string[];
  /** The authority a session may hand to children (never more than its parent's). */
  envelope: Set<string>;
}

/**
 * The tools of `role` and of every role it may start, transitively, while
 * `depthLeft` more levels of children may exist.
 */
export function roleEnvelope(policy: CompiledPolicy, role: Role, depthLeft: number, registry: Registry): Set<string> {
  const envelope = new Set<string>();
  // The deepest level at which each role was expanded: a role reached again with no more depth adds nothing new.
  const expanded = new Map<Role, number>();
  const visit = (r: Role, left: number) => {
    if ((expanded.get(r) ?? -1) >= left) return;
    expanded.set(r, left);
    for (const t of roleTools(policy, r, registry)) envelope.add(t);
    if (left > 0) for (const child of policy.spawnsFor(r)) visit(child, left - 1);
  };
  visit(role, depthLeft);
  return envelope;
}

/** The grant of a session of `role` at `depth`, before any parent's envelope narrows it. */
export function roleGrant(policy: CompiledPolicy, role: Role, depth: number, maxDepth: number, registry: Registry): Grant {
  return { tools: roleTools(policy, role, registry), envelope: roleEnvelope(policy, role, Math.max(0, maxDepth - depth), registry) };
}

/** A root session's grant: its role's tools; its envelope reaches as deep as `maxDepth`. */
export function rootGrant(policy: CompiledPolicy, role: Role, maxDepth: number, registry: Registry): Grant {
  return roleGrant(policy, role, 0, maxDepth, registry);
}

/** A child's grant: its role's grant at its depth, intersected with its parent's envelope. */
export function childGrant(
  policy: CompiledPolicy, role: Role, depth: number, maxDepth: number, parentEnvelope: ReadonlySet<string>, registry: Registry,
): Grant {
  return within(roleGrant(policy, role, depth, maxDepth, registry), parentEnvelope);
}

/** A grant cut down to what `envelope` allows: tools and envelope alike. */
export function within(grant: Grant, envelope: ReadonlySet<string>): Grant {
  return {
    tools: grant.tools.filter((t) => envelope.has(t)),
    envelope: new Set([...grant.envelope].filter((t) => envelope.has(t))),
  };
}
