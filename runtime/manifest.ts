// The capability manifest: per role, each granted tool with the schema and
// description the model is offered and the policy rules that govern it, the
// limits, and a SHA-256 over all of it. Built from the same registry, grant
// function and compiled policy the broker uses, so it cannot drift from what
// runs. This is what a security reviewer signs off.
import { createHash } from 'node:crypto';
import { type ToolLimits } from '../capabilities/capability.js';
import { CAPABILITIES, REGISTRY } from '../capabilities/index.js';
import { type Action, type CompiledPolicy, ROLES, type Role } from '../policy/types.js';
import { SPAWN_TOOL, childGrant, roleTools, rootGrant } from './broker/grants.js';

/** The policy actions each tool declares in its own file (`actions` of its capability). */
export const TOOL_ACTIONS: Readonly<Record<string, readonly Action[]>> = Object.fromEntries(
  CAPABILITIES.flatMap((c) => (c.actions ? [[c.name, c.actions] as const] : [])),
);

export interface ManifestTool {
  name: string;
  description: string;
  input_schema: unknown;
  rules: Record<string, unknown>;
}

export interface RoleManifest {
  role: Role;
  tools: ManifestTool[];
  limits: { max_depth: number; max_parallel: number; tool_output: ToolLimits };
  hash: string;
}

export function roleManifest(policy: CompiledPolicy, role: Role, toolLimits: ToolLimits): RoleManifest {
  const own = roleTools(policy, role, REGISTRY);
  const implTools = roleTools(policy, 'impl', REGISTRY);
  const grant = rootGrant(own, implTools);
  const ruleSet = policy.rulesFor(role) as { reads: unknown; mutations: Record<string, unknown> };
  const tools = grant.tools.map((name): ManifestTool => {
    const capability = REGISTRY.get(name)!;
    const actions = TOOL_ACTIONS[name] ?? [];
    const rules: Record<string, unknown> = { actions };
    if (actions.includes('read')) rules.reads = ruleSet.reads;
    const mutating = actions.filter((a) => a !== 'read');
    if (mutating.length) rules.mutations = filterMutations(ruleSet.mutations, mutating);
    if (name === SPAWN_TOOL) {
      rules.limits = { max_depth: policy.limits.max_depth, max_parallel: policy.limits.max_parallel };
      rules.child_role = 'impl';
      rules.child_tools = childGrant(implTools, grant.envelope).tools;
    }
    return { name, description: capability.description, input_schema: capability.input, rules };
  });
  const body = { role, tools, limits: { ...policy.limits, tool_output: toolLimits } };
  return { ...body, hash: hashOf({ ...body, policy_hash: policy.hash }) } as RoleManifest;
}

export function fullManifest(policy: CompiledPolicy, toolLimits: ToolLimits): { roles: Record<Role, RoleManifest>; hash: string } {
  const roles = Object.fromEntries(ROLES.map((r) => [r, roleManifest(policy, r, toolLimits)])) as Record<Role, RoleManifest>;
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
