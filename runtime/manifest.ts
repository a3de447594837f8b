// The capability manifest: per role, each granted tool with the schema and
// description the model is offered and the policy rules that govern it, the
// roles it may start, the model and provider it runs on, its prompt, the
// limits, and a SHA-256 over all of it. Built from the same registry, grant
// functions, role settings and compiled policy the broker uses, so it cannot
// drift from what runs. This is what a security reviewer signs off.
import { createHash } from 'node:crypto';
import { type ToolLimits, offeredInput } from '../capabilities/capability.js';
import { CAPABILITIES, REGISTRY } from '../capabilities/index.js';
import type { Action, CompiledPolicy, Role } from '../policy/types.js';
import { SPAWN_SESSION_TOOL, SPAWN_TOOL, childGrant, roleDescription, rootGrant, toolOffer } from './broker/grants.js';
import { type RunDefaults, roleEndpoint } from './broker/role-models.js';
import type { RolePrompt } from './broker/role-prompts.js';
import type { ProviderName } from './providers/provider.js';

/** The policy actions each tool declares in its own file (`actions` of its capability). */
export const TOOL_ACTIONS: Readonly<Record<string, readonly Action[]>> = Object.fromEntries(
  CAPABILITIES.flatMap((c) => (c.actions ? [[c.name, c.actions] as const] : [])),
);

/**
 * Whether a tool is there to change files (policy:lint asks whether a role
 * without rules holds one). complete_task is not: it moves an impl session's
 * task, and any role without rules still ends its session with it.
 */
export function toolMutates(tool: string): boolean {
  return tool !== 'complete_task' && (TOOL_ACTIONS[tool] ?? []).some((a) => a !== 'read');
}

export interface ManifestTool {
  name: string;
  description: string;
  input_schema: unknown;
  rules: Record<string, unknown>;
}

export interface RoleManifest {
  role: Role;
  description: string;
  tools: ManifestTool[];
  /** The roles its sessions may start. */
  spawns: Role[];
  model: string;
  provider: ProviderName;
  /** Where its system prompt comes from (`built-in` or a workspace file) and the text's SHA-256. */
  prompt: { source: string; sha256: string };
  limits: { max_depth: number; max_parallel: number; tool_output: ToolLimits };
  hash: string;
}

export interface ManifestSettings {
  toolLimits: ToolLimits;
  /** The run defaults the manifest assumes (--provider, --model). */
  defaults: RunDefaults;
  /** Every role's prompt. */
  prompts: ReadonlyMap<Role, RolePrompt>;
}

export function roleManifest(policy: CompiledPolicy, role: Role, settings: ManifestSettings): RoleManifest {
  const maxDepth = policy.limits.max_depth;
  const grant = rootGrant(policy, role, maxDepth, REGISTRY);
  const offer = toolOffer(policy, role);
  const ruleSet = policy.rulesFor(role) as { reads: unknown; mutations: Record<string, unknown> };
  const tools = grant.tools.map((name): ManifestTool => {
    const capability = REGISTRY.get(name)!;
    const actions = TOOL_ACTIONS[name] ?? [];
    const rules: Record<string, unknown> = { actions };
    if (actions.includes('read')) rules.reads = ruleSet.reads;
    const mutating = actions.filter((a) => a !== 'read');
    if (mutating.length) rules.mutations = filterMutations(ruleSet.mutations, mutating);
    if (name === SPAWN_TOOL || name === SPAWN_SESSION_TOOL) {
      rules.limits = { max_depth: maxDepth, max_parallel: policy.limits.max_parallel };
      const children = name === SPAWN_TOOL ? ['impl'] : offer.spawns.map((r) => r.name);
      // What a child of each role would hold under this session: its role's tools ∩ this envelope.
      rules.child_tools = Object.fromEntries(children.map((child) => [child, childGrant(policy, child, 1, maxDepth, grant.envelope, REGISTRY).tools]));
    }
    return { name, description: capability.description, input_schema: offeredInput(capability, offer), rules };
  });
  const endpoint = roleEndpoint(policy, role, settings.defaults);
  const prompt = settings.prompts.get(role);
  if (!prompt) throw new Error(`no prompt loaded for role ${role}`);
  const body = {
    role,
    description: roleDescription(policy, role),
    tools,
    spawns: [...policy.spawnsFor(role)],
    model: endpoint.model,
    provider: endpoint.provider,
    prompt: { source: prompt.source, sha256: createHash('sha256').update(prompt.text).digest('hex') },
    limits: { ...policy.limits, tool_output: settings.toolLimits },
  };
  return { ...body, hash: hashOf({ ...body, policy_hash: policy.hash }) };
}

export function fullManifest(policy: CompiledPolicy, settings: ManifestSettings): { roles: Record<Role, RoleManifest>; hash: string } {
  const roles = Object.fromEntries(policy.roles.map((r) => [r, roleManifest(policy, r, settings)])) as Record<Role, RoleManifest>;
  return { roles, hash: hashOf({ roles, policy_hash: policy.hash }) };
}

function filterMutations(mutations: Record<string, unknown>, actions: Action[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(mutations)) {
    out[key] = Array.isArray(value)
      ? value.filter((r: { actions?: string[] }) => !r.actions || r.actions.some((a) => actions.includes(a as Action)))
      : value;
  }
  return out;
}

/** SHA-256 of canonical JSON (keys sorted at every level). */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
