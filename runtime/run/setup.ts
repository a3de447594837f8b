// From command-line settings to a ready broker: workspace, policy, roles,
// providers, sandbox and limits, each checked with a one-line error (exit 2)
// before any session starts or any model is called.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { DEFAULT_TOOL_LIMITS } from '../../capabilities/capability.js';
import type { CompiledPolicy, Role } from '../../policy/types.js';
import type { BrokerOptions } from '../broker/broker.js';
import { SandboxUnavailableError, UsageError } from '../../policy/errors.js';
import { durationFlag } from '../duration.js';
import { resolveWorkspace, workspacePaths } from '../paths.js';
import type { ProviderName } from '../providers/provider.js';
import { providerNames, createProviders } from '../providers/registry.js';
import { DEFAULT_MODELS, type RunDefaults, definedRole, reachableRoles, roleEndpoint } from '../broker/role-models.js';
import { loadRolePrompts } from '../broker/role-prompts.js';
import { detectSandbox } from '../broker/worker-sandbox.js';
import { FALLBACK_PRICE, isKnownModel } from '../providers/pricing.js';

/** The run's model when neither --model nor CHORAGEN_MODEL names one (for the default provider). */
export const DEFAULT_MODEL = DEFAULT_MODELS.anthropic;

export interface RunSettings {
  workspace?: string;
  policyFile?: string;
  provider?: string;
  script?: string;
  model?: string;
  maxTokens?: string;
  maxCost?: string;
  maxDepth?: string;
  maxParallel?: string;
  maxTurns?: string;
  maxRetries?: string;
  sessionTimeout?: string;
  workerMemoryMb?: string;
  autoApprove?: boolean;
  requireApproval?: boolean;
  unsafeNoSandbox?: boolean;
  recordCommits?: boolean;
  interactive: boolean;
  argv: string[];
}

export function ensureStateDir(workspace: string): void {
  const dirs = workspacePaths(workspace);
  try {
    for (const d of [dirs.state, dirs.audit, dirs.sessions]) mkdirSync(d, { recursive: true });
    accessSync(dirs.audit, constants.W_OK);
  } catch {
    throw new UsageError(`cannot write ${dirs.state}: the workspace must be writable (choragen keeps its audit log and metrics there)`);
  }
}

/** The workspace's policy, with every role's `tools` checked against the tools that exist. */
export async function loadWorkspacePolicy(workspace: string, file?: string): Promise<CompiledPolicy> {
  const { loadPolicy } = await import('../../policy/load.js');
  const { REGISTRY } = await import('../../capabilities/index.js');
  return loadPolicy(file ?? workspacePaths(workspace).policy, { knownTools: [...REGISTRY.keys()] });
}

/** `--provider` and `--model` (or CHORAGEN_MODEL): what the root and every role without its own run on. */
export function runDefaults(settings: Pick<RunSettings, 'provider' | 'model'>): RunDefaults {
  const provider = settings.provider ?? 'anthropic';
  if (!(providerNames as readonly string[]).includes(provider)) {
    throw new UsageError(`unknown --provider "${provider}" (expected ${providerNames.join(', ')})`);
  }
  const name = provider as ProviderName;
  const model = settings.model ?? process.env.CHORAGEN_MODEL ?? (name === 'script' ? DEFAULT_MODEL : DEFAULT_MODELS[name]);
  return { provider: name, model };
}

export function positiveInt(name: string, value: string | undefined, fallback: number): number;
export function positiveInt(name: string, value: string | undefined, fallback?: number): number | undefined;
export function positiveInt(name: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new UsageError(`${name} must be a whole number of at least 1 (got "${value}")`);
  return Number(value);
}

export function nonNegativeInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${name} must be a whole number (got "${value}")`);
  return Number(value);
}

export function positiveNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number (got "${value}")`);
  return n;
}

/**
 * Everything the broker needs, validated. Limits from flags can only narrow
 * the policy's. With `role`, only what a tree rooted in that role can reach
 * is set up (prompts read, providers created, keys checked); without it,
 * every role's.
 */
export async function prepareRun(settings: RunSettings, role?: string): Promise<{ options: Omit<BrokerOptions, 'onEvent'>; policy: CompiledPolicy }> {
  const workspace = resolveWorkspace(settings.workspace);
  const policy = await loadWorkspacePolicy(workspace, settings.policyFile);
  const defaults = runDefaults(settings);
  if (role !== undefined) definedRole(policy, role);
  const maxDepth = Math.min(nonNegativeInt('--max-depth', settings.maxDepth, policy.limits.max_depth), policy.limits.max_depth);
  const maxParallel = Math.min(positiveInt('--max-parallel', settings.maxParallel, policy.limits.max_parallel), policy.limits.max_parallel);
  const options = {
    workspace,
    policy,
    maxDepth,
    maxParallel,
    maxTurns: positiveInt('--max-turns', settings.maxTurns, 100),
    maxRetries: nonNegativeInt('--max-retries', settings.maxRetries, 4),
    retryBaseMs: 500,
    maxOutputTokens: 8192,
    maxTokens: positiveInt('--max-tokens', settings.maxTokens),
    maxCost: positiveNumber('--max-cost', settings.maxCost),
    sessionTimeoutMs: settings.sessionTimeout === undefined ? undefined : durationFlag('--session-timeout', settings.sessionTimeout, { positive: true }),
    workerMemoryMb: positiveInt('--worker-memory-mb', settings.workerMemoryMb, 512),
    autoApprove: !!settings.autoApprove,
    requireApproval: !!settings.requireApproval,
    interactive: settings.interactive,
    approvalTimeoutMs: 120_000,
    recordCommits: settings.recordCommits !== false,
    toolLimits: { ...DEFAULT_TOOL_LIMITS },
    argv: settings.argv,
    sandbox: detectSandbox(),
  };
  if (options.sandbox === 'none' && !settings.unsafeNoSandbox) {
    throw new SandboxUnavailableError('this Node has no permission model (--permission / --experimental-permission); sessions would run unsandboxed. Use Node >= 20.19, or pass --unsafe-no-sandbox to run anyway (recorded in the audit log)');
  }
  if (settings.unsafeNoSandbox) options.sandbox = 'none';
  ensureStateDir(workspace);
  const roles = role !== undefined ? reachableRoles(policy, role, maxDepth) : [...policy.roles];
  const rolePrompts = await loadRolePrompts(workspace, policy, roles);
  const endpoints = roles.map((r) => ({ role: r, ...roleEndpoint(policy, r, defaults) }));
  const providers = await createProviders(endpoints, settings);
  const unpriced = new Map<string, Role[]>();
  for (const e of endpoints) if (e.provider !== 'script' && !isKnownModel(e.model)) unpriced.set(e.model, [...(unpriced.get(e.model) ?? []), e.role]);
  const notices = [...unpriced].map(([model, users]) => unknownPriceNotice(model, users, options.maxCost !== undefined));
  return { options: { ...options, defaults, providers, rolePrompts, notices }, policy };
}

/** One line for a model the price table does not know: how it is priced instead, and what that means for --max-cost. */
export function unknownPriceNotice(model: string, roles: readonly Role[], maxCost: boolean): string {
  const rate = `$${FALLBACK_PRICE.input} in / $${FALLBACK_PRICE.output} out per million tokens`;
  return `no price is known for model "${model}" (${roles.length === 1 ? 'role' : 'roles'} ${roles.join(', ')}): its cost is estimated at the table's highest rate, ${rate}` +
    (maxCost ? '; --max-cost counts that estimate' : '');
}
