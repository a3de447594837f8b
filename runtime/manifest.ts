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
import { RUN_COMMAND_TOOL } from '../policy/commands.js';
import { writableBases } from '../policy/command-areas.js';
import { policyRelPath } from '../policy/protected-paths.js';
import { DEFAULT_SANDBOX_LIMITS, HOST_HIDDEN_DIRS, HOST_SECRET_PATHS, HOST_SYSTEM_DIRS } from '../capabilities/sandbox/index.js';

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
      'every other name (hard link) in the workspace of a file hidden so',
      ...HOST_HIDDEN_DIRS,
      `every other directory at the root of the host (all but ${HOST_SYSTEM_DIRS.join(' ')})`,
      ...HOST_SECRET_PATHS,
      "the host's /tmp (the command gets a private one)",
    ],
    network: "none: the command's own loopback only, not the host's",
    environment: 'PATH, HOME and TMPDIR (and PWD) only; HOME and TMPDIR are fresh per command',
    refused: 'shells, commands that run other commands (env, xargs, nohup, npx -c …), code given inline (node -e, python -c …), program paths with ".." or outside the workspace and system directories',
    timeout_s: policy.limits.command_timeout_s,
    output: `the last ${Math.max(1024, Math.floor((toolLimits.outputBytes - 4096) / 2))} bytes of stdout and of stderr; killed, with everything it started, past ${DEFAULT_SANDBOX_LIMITS.outputLimitBytes / (1024 * 1024)} MiB of output or at the timeout`,
    processes: `at most ${DEFAULT_SANDBOX_LIMITS.maxProcesses} processes and ${DEFAULT_SANDBOX_LIMITS.maxMemoryMb} MiB of memory for the whole command, where the host lets choragen make cgroups (the status says whether it does)`,
  };
}

export interface ManifestSettings {
  toolLimits: ToolLimits;
  /** The run defaults the manifest assumes (--provider, --model). */
  defaults: RunDefaults;
  /** Every role's prompt. */
  prompts: ReadonlyMap<Role, RolePrompt>;
  /** The workspace, to name its policy file in run_command's promises. */
  workspace?: string;
  /**
   * The command sandbox on this machine ("available: bubblewrap 0.8.0" or
   * "unavailable: <reason>"): shown with run_command's sandbox but left out of
   * the hash, since it describes the machine, not the grant.
   */
  sandboxStatus?: string;
}

export function roleManifest(policy: CompiledPolicy, role: Role, settings: ManifestSettings): RoleManifest {
  const maxDepth = policy.limits.max_depth;
  const grant = rootGrant(policy, role, maxDepth, REGISTRY);
  const offer = toolOffer(policy, role);
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
      rules.sandbox = sandboxPromises(policy, role, settings.toolLimits, settings.workspace);
    }
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
  const manifest = { ...body, hash: hashOf({ ...body, policy_hash: policy.hash }) };
  // Added after hashing: the machine's sandbox status is shown, not signed.
  if (settings.sandboxStatus !== undefined) showSandboxStatus(manifest, settings.sandboxStatus);
  return manifest;
}

export function fullManifest(policy: CompiledPolicy, settings: ManifestSettings): { roles: Record<Role, RoleManifest>; hash: string } {
  const unsigned = { ...settings, sandboxStatus: undefined };
  const roles = Object.fromEntries(policy.roles.map((r) => [r, roleManifest(policy, r, unsigned)])) as Record<Role, RoleManifest>;
  const hash = hashOf({ roles, policy_hash: policy.hash });
  if (settings.sandboxStatus !== undefined) for (const m of Object.values(roles)) showSandboxStatus(m, settings.sandboxStatus);
  return { roles, hash };
}

function showSandboxStatus(manifest: RoleManifest, status: string): void {
  const sandbox = manifest.tools.find((t) => t.name === RUN_COMMAND_TOOL)?.rules.sandbox as Record<string, unknown> | undefined;
  if (sandbox) sandbox.status = status;
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
