// The capability manifest: per role, each granted tool with the schema and
// description the model is offered and the policy rules that govern it, the
// limits, and a SHA-256 over all of it. Built from the same registry, grant
// function and compiled policy the broker uses, so it cannot drift from what
// runs. This is what a security reviewer signs off.
import { createHash } from 'node:crypto';
import { type ToolLimits } from '../capabilities/capability.js';
import { REGISTRY } from '../capabilities/index.js';
import { type Action, type CompiledPolicy, ROLES, type Role } from '../policy/types.js';
import { SPAWN_TOOL, childGrant, roleTools, rootGrant } from './broker/grants.js';
import { RUN_COMMAND_TOOL } from '../policy/commands.js';
import { writableBases } from '../policy/command-areas.js';
import { policyRelPath } from '../policy/protected-paths.js';
import { DEFAULT_SANDBOX_LIMITS, HOST_HIDDEN_DIRS, HOST_SECRET_PATHS } from '../capabilities/sandbox/index.js';

/** The policy actions each tool can ask for (spawn is governed by limits instead). */
export const TOOL_ACTIONS: Readonly<Record<string, readonly Action[]>> = {
  read_file: ['read'],
  list_files: ['read'],
  search_files: ['read'],
  git_status: ['read'],
  git_diff: ['read'],
  chain_status: ['read'],
  task_list: ['read'],
  write_file: ['create', 'modify'],
  edit_file: ['modify'],
  delete_file: ['delete'],
  move_file: ['move', 'create'],
  task_start: ['read', 'move', 'create'],
  task_approve: ['read', 'move', 'create'],
  task_rework: ['read', 'move', 'create', 'modify'],
  complete_task: ['read', 'move', 'create', 'modify'],
  spawn_impl_session: ['read'],
  run_command: ['read', 'create', 'modify', 'delete'],
};

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

/**
 * What the sandbox under run_command promises for this role (docs/sandbox.md),
 * from the policy alone: the same on every machine, so it is part of the hash.
 */
export function sandboxPromises(policy: CompiledPolicy, role: Role, toolLimits: ToolLimits, workspace?: string): Record<string, unknown> {
  const bases = writableBases(policy, role);
  const policyRel = workspace ? policyRelPath(workspace, policy.file) : 'choragen.governance.yaml';
  const readDenied = (policy.rulesFor(role).reads as { deny: { pattern: string }[] }).deny.map((r) => r.pattern);
  return {
    writable: bases.length ? bases.map((b) => (b === '.' ? '. (the workspace)' : b)) : ['nothing'],
    writable_note: 'only where these exist as real directories or files; inside them, only what the role may both modify and delete, and new paths the role may create (others are removed after the run)',
    read_only: [
      'every .git directory',
      ...(policyRel ? [`${policyRel} (the policy in force)`] : []),
      'existing paths the role may not both modify and delete (mutations deny and approve rules, or no allow rule)',
      'files with more than one hard link',
      'the rest of the workspace and of the host',
    ],
    hidden: [
      ...readDenied.map((p) => `${p} (reads.deny)`),
      '.choragen/',
      ...HOST_HIDDEN_DIRS,
      ...HOST_SECRET_PATHS,
      "the host's /tmp (the command gets a private one)",
    ],
    network: "none: the command's own loopback only, not the host's",
    environment: 'PATH, HOME and TMPDIR (and PWD) only; HOME and TMPDIR are fresh per command',
    refused: 'shells, commands that run other commands (env, xargs, nohup, npx -c …), code given inline (node -e, python -c …), program paths with ".." or outside the workspace and system directories',
    timeout_s: policy.limits.command_timeout_s,
    output: `the last ${Math.max(1024, Math.floor((toolLimits.outputBytes - 4096) / 2))} bytes of stdout and of stderr; killed, with everything it started, past ${DEFAULT_SANDBOX_LIMITS.outputLimitBytes / (1024 * 1024)} MiB of output or at the timeout`,
  };
}

/**
 * `sandboxStatus` ("available: bubblewrap 0.8.0" or "unavailable: <reason>") is
 * shown with run_command's sandbox but left out of the hash: it describes the
 * machine, not the grant.
 */
export function roleManifest(policy: CompiledPolicy, role: Role, toolLimits: ToolLimits, sandboxStatus?: string, workspace?: string): RoleManifest {
  const own = roleTools(policy, role, REGISTRY);
  const implTools = roleTools(policy, 'impl', REGISTRY);
  const grant = rootGrant(own, implTools);
  const ruleSet = policy.rulesFor(role) as { reads: unknown; mutations: Record<string, unknown>; commands: unknown };
  const tools = grant.tools.map((name): ManifestTool => {
    const capability = REGISTRY.get(name)!;
    const actions = TOOL_ACTIONS[name] ?? [];
    const rules: Record<string, unknown> = { actions };
    if (actions.includes('read')) rules.reads = ruleSet.reads;
    const mutating = actions.filter((a) => a !== 'read');
    if (mutating.length) rules.mutations = filterMutations(ruleSet.mutations, mutating);
    if (name === RUN_COMMAND_TOOL) {
      rules.commands = ruleSet.commands;
      rules.sandbox = sandboxPromises(policy, role, toolLimits, workspace);
    }
    if (name === SPAWN_TOOL) {
      rules.limits = { max_depth: policy.limits.max_depth, max_parallel: policy.limits.max_parallel };
      rules.child_role = 'impl';
      rules.child_tools = childGrant(implTools, grant.envelope).tools;
    }
    return { name, description: capability.description, input_schema: capability.input, rules };
  });
  const body = { role, tools, limits: { ...policy.limits, tool_output: toolLimits } };
  const manifest = { ...body, hash: hashOf({ ...body, policy_hash: policy.hash }) } as RoleManifest;
  const sandbox = tools.find((t) => t.name === RUN_COMMAND_TOOL)?.rules.sandbox as Record<string, unknown> | undefined;
  if (sandbox && sandboxStatus !== undefined) sandbox.status = sandboxStatus;
  return manifest;
}

export function fullManifest(policy: CompiledPolicy, toolLimits: ToolLimits, sandboxStatus?: string, workspace?: string): { roles: Record<Role, RoleManifest>; hash: string } {
  const roles = Object.fromEntries(ROLES.map((r) => [r, roleManifest(policy, r, toolLimits, undefined, workspace)])) as Record<Role, RoleManifest>;
  const hash = hashOf({ roles, policy_hash: policy.hash });
  // Added after hashing: the machine's sandbox status is shown, not signed.
  for (const m of Object.values(roles)) {
    const sandbox = m.tools.find((t) => t.name === RUN_COMMAND_TOOL)?.rules.sandbox as Record<string, unknown> | undefined;
    if (sandbox && sandboxStatus !== undefined) sandbox.status = sandboxStatus;
  }
  return { roles, hash };
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
