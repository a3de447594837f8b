// From command-line settings to a ready broker: workspace, policy, roles,
// providers, sandbox and limits, each checked with a one-line error (exit 2)
// before any session starts or any model is called.
import { accessSync, closeSync, constants, existsSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
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
import { makeDirs } from '../make-dirs.js';
import { errnoCode, storageError } from '../storage-error.js';

/** The run's model when neither --model nor CHORAGEN_MODEL names one (for the default provider). */

/** A session worker's heap cap without --worker-memory-mb. */
export const DEFAULT_WORKER_MEMORY_MB = 512;
export const DEFAULT_MODEL = DEFAULT_MODELS.anthropic;
/** --request-timeout's default, in seconds. */
export const DEFAULT_REQUEST_TIMEOUT_S = 120;
/** No model has a smaller window; below it, not even the system prompt and the tools fit. */
const MIN_CONTEXT_WINDOW = 4096;

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
  contextWindow?: string;
  requestTimeout?: string;
  workerMemoryMb?: string;
  autoApprove?: boolean;
  requireApproval?: boolean;
  unsafeNoSandbox?: boolean;
  recordCommits?: boolean;
  interactive: boolean;
  argv: string[];
}

/**
 * Makes .choragen/ and its directories, and proves they take a write: a byte
 * is written to a probe file and removed again (a permission check alone
 * misses a full disk, and as root it passes where writes still fail). Exit 2
 * with the reason when they do not: nothing has run yet.
 */
export function ensureStateDir(workspace: string): void {
  const dirs = workspacePaths(workspace);
  for (const d of [dirs.state, dirs.audit, dirs.sessions]) {
    try {
      makeDirs(d);
    } catch (err) {
      throw storageError(err, 'create', (err as { path?: string }).path ?? d, true);
    }
  }
  for (const d of [dirs.audit, dirs.sessions]) {
    const probe = path.join(d, `.write-probe-${process.pid}`);
    try {
      const fd = openSync(probe, 'w');
      try {
        writeSync(fd, '.');
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw storageError(err, 'write in', d, true);
    } finally {
      rmSync(probe, { force: true });
    }
  }
  // .choragen/ may be a mount of its own: a workspace on a read-only file system takes no change, say so now.
  try {
    accessSync(workspace, constants.W_OK);
  } catch (err) {
    if (errnoCode(err) === 'EROFS') throw storageError(err, 'write in', workspace, true);
  }
  // git ignores the whole directory, itself included, whether or not .gitignore names it.
  const ignore = path.join(dirs.state, '.gitignore');
  try {
    if (!existsSync(ignore)) writeFileSync(ignore, '# written by choragen: its records stay out of git\n*\n');
  } catch (err) {
    throw storageError(err, 'write', ignore, true);
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

/** Node's timers hold at most 2^31-1 ms (~24.8 days); a day is already more than any endpoint needs. */
const MAX_REQUEST_TIMEOUT_S = 86_400;

function requestTimeoutMs(value: string | undefined): number {
  const seconds = positiveNumber('--request-timeout', value) ?? DEFAULT_REQUEST_TIMEOUT_S;
  if (seconds > MAX_REQUEST_TIMEOUT_S) throw new UsageError(`--request-timeout must be at most ${MAX_REQUEST_TIMEOUT_S} seconds (a day; got ${value})`);
  return seconds * 1000;
}

function contextWindowTokens(value: string | undefined): number | undefined {
  const tokens = positiveInt('--context-window', value);
  if (tokens !== undefined && tokens < MIN_CONTEXT_WINDOW) {
    throw new UsageError(`--context-window must be at least ${MIN_CONTEXT_WINDOW} tokens (got ${tokens}): the system prompt and tools alone take a few thousand`);
  }
  return tokens;
}

/**
 * Everything the broker needs, validated. Limits from flags can only narrow
 * the policy's. With `role`, only what a tree rooted in that role can reach
 * is set up (prompts read, providers created, keys checked); without it,
 * every role's. `provider: false` (a dry run) checks everything but creates
 * no provider and no state directory, so it needs no key.
 */
export async function prepareRun(settings: RunSettings, role?: string, opts: { provider?: boolean } = {}): Promise<{ options: Omit<BrokerOptions, 'onEvent'>; policy: CompiledPolicy }> {
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
    contextWindow: contextWindowTokens(settings.contextWindow),
    requestTimeoutMs: requestTimeoutMs(settings.requestTimeout),
    workerMemoryMb: positiveInt('--worker-memory-mb', settings.workerMemoryMb, DEFAULT_WORKER_MEMORY_MB),
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
  if (options.requireApproval && !options.interactive && !options.autoApprove) {
    throw new UsageError('--require-approval needs a terminal to ask on (stdin and stderr), and this run has none: every change would be refused. Run it in a terminal, or leave the flag out');
  }
  const live = opts.provider !== false;
  if (live) ensureStateDir(workspace);
  const roles = role !== undefined ? reachableRoles(policy, role, maxDepth) : [...policy.roles];
  const rolePrompts = await loadRolePrompts(workspace, policy, roles);
  const endpoints = roles.map((r) => ({ role: r, ...roleEndpoint(policy, r, defaults) }));
  const providers = live ? await createProviders(endpoints, settings) : new Map();
  const unpriced = new Map<string, Role[]>();
  for (const e of endpoints) if (!isKnownModel(e.model)) unpriced.set(e.model, [...(unpriced.get(e.model) ?? []), e.role]);
  const notices = [...unpriced].map(([model, users]) => unknownPriceNotice(model, users, options.maxCost !== undefined));
  return { options: { ...options, defaults, providers, rolePrompts, notices }, policy };
}

/** One line for a model the price table does not know: how it is priced instead, and what that means for --max-cost. */
export function unknownPriceNotice(model: string, roles: readonly Role[], maxCost: boolean): string {
  const rate = `$${FALLBACK_PRICE.input} in / $${FALLBACK_PRICE.output} out per million tokens`;
  return `no price is known for model "${model}" (${roles.length === 1 ? 'role' : 'roles'} ${roles.join(', ')}): its cost is estimated at the table's highest rate, ${rate}` +
    (maxCost ? '; --max-cost counts that estimate' : '');
}
