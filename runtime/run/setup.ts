// From command-line settings to a ready broker: workspace, policy, provider,
// sandbox and limits, each checked with a one-line error (exit 2) before any
// session starts or any model is called.
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_TOOL_LIMITS } from '../../capabilities/capability.js';
import type { CompiledPolicy } from '../../policy/types.js';
import type { BrokerOptions } from '../broker/broker.js';
import { SandboxUnavailableError, UsageError } from '../../policy/errors.js';
import { resolveWorkspace, workspacePaths } from '../paths.js';
import type { ModelProvider } from '../providers/provider.js';
import { detectSandbox } from '../broker/worker-sandbox.js';
import { makeDirs } from '../make-dirs.js';
import { storageError } from '../storage-error.js';

export const DEFAULT_MODEL = 'claude-sonnet-5';

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
}

export async function loadWorkspacePolicy(workspace: string, file?: string): Promise<CompiledPolicy> {
  const { loadPolicy } = await import('../../policy/load.js');
  return loadPolicy(file ?? workspacePaths(workspace).policy);
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

/** "90s", "5m", "1h", "1500ms" or plain seconds. */
export function durationMs(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m || Number(m[1]) <= 0) throw new UsageError(`${name} must be a duration like 90s, 5m or 1h (got "${value}")`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

export async function createProvider(settings: RunSettings): Promise<ModelProvider> {
  const name = settings.provider ?? 'anthropic';
  if (name === 'script') {
    if (!settings.script) throw new UsageError('--provider script needs --script FILE (a scripted conversation; see examples/demo-script.json)');
    const { ScriptProvider } = await import('../providers/script/provider.js');
    return ScriptProvider.fromFile(settings.script);
  }
  if (name !== 'anthropic') throw new UsageError(`unknown --provider "${name}" (expected anthropic or script)`);
  const apiKey = process.env.ANTHROPIC_API_KEY;
  if (!apiKey) throw new UsageError('ANTHROPIC_API_KEY is not set: export it, or run offline with --provider script --script FILE');
  const { AnthropicProvider } = await import('../providers/anthropic.js');
  return AnthropicProvider.create({ apiKey, baseURL: process.env.ANTHROPIC_BASE_URL });
}

/** Everything the broker needs, validated. Limits from flags can only narrow the policy's. */
export async function prepareRun(settings: RunSettings): Promise<{ options: Omit<BrokerOptions, 'onEvent'>; policy: CompiledPolicy }> {
  const workspace = resolveWorkspace(settings.workspace);
  const policy = await loadWorkspacePolicy(workspace, settings.policyFile);
  const maxDepth = Math.min(nonNegativeInt('--max-depth', settings.maxDepth, policy.limits.max_depth), policy.limits.max_depth);
  const maxParallel = Math.min(positiveInt('--max-parallel', settings.maxParallel, policy.limits.max_parallel), policy.limits.max_parallel);
  const options = {
    workspace,
    policy,
    model: settings.model ?? process.env.CHORAGEN_MODEL ?? DEFAULT_MODEL,
    maxDepth,
    maxParallel,
    maxTurns: positiveInt('--max-turns', settings.maxTurns, 100),
    maxRetries: nonNegativeInt('--max-retries', settings.maxRetries, 4),
    retryBaseMs: 500,
    maxOutputTokens: 8192,
    maxTokens: positiveInt('--max-tokens', settings.maxTokens),
    maxCost: positiveNumber('--max-cost', settings.maxCost),
    sessionTimeoutMs: durationMs('--session-timeout', settings.sessionTimeout),
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
  const provider = await createProvider(settings);
  return { options: { ...options, provider }, policy };
}
