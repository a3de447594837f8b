// What the in-process benchmarks share: throwaway workspaces and the options
// of a broker run as agent:start would set them (sandboxed workers, the
// choragen governance fixture), minus what a bench must not pay for or wait
// on (terminal approvals, session commits, DuckDB ingest at the end).
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_TOOL_LIMITS } from '../capabilities/capability.js';
import { loadPolicy } from '../policy/load.js';
import { type BrokerOptions, singleProvider } from '../runtime/broker/broker.js';
import { ensureStateDir } from '../runtime/run/setup.js';
import type { ModelAnswer, ModelProvider } from '../runtime/providers/provider.js';
import { detectSandbox } from '../runtime/broker/worker-sandbox.js';
import { POLICY_FIXTURE } from './policy.js';

/** A temp workspace holding the governance fixture and `files` (relative path -> content). */
export function makeBenchWorkspace(files: Record<string, string> = {}): string {
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'choragen-bench-')));
  cpSync(POLICY_FIXTURE, path.join(root, 'choragen.governance.yaml'));
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }
  ensureStateDir(root);
  return root;
}

export function removeBenchWorkspace(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/** A small TypeScript source of `lines` lines. */
export function smallSource(lines = 40, tag = 'bench'): string {
  const out: string[] = [`// ${tag}: a small source file for the benchmarks`];
  for (let i = 1; i < lines; i++) out.push(`export const value${i} = ${i} * 2; // line ${i + 1}`);
  return out.join('\n') + '\n';
}

export async function benchBrokerOptions(workspace: string, provider: ModelProvider, overrides: Partial<BrokerOptions> = {}): Promise<BrokerOptions> {
  const sandbox = detectSandbox();
  if (sandbox === 'none') throw new Error('this Node has no permission model: the benchmarks measure sandboxed sessions only');
  return {
    workspace,
    policy: await loadPolicy(path.join(workspace, 'choragen.governance.yaml')),
    ...singleProvider(provider, 'claude-bench'),
    sandbox,
    maxDepth: 2,
    maxParallel: 4,
    maxTurns: 10_000,
    maxRetries: 0,
    retryBaseMs: 1,
    maxOutputTokens: 1024,
    autoApprove: false,
    requireApproval: false,
    interactive: false,
    approvalTimeoutMs: 1000,
    recordCommits: false,
    toolLimits: { ...DEFAULT_TOOL_LIMITS },
    argv: ['bench'],
    ingest: false,
    ...overrides,
  };
}

export const ZERO_USAGE = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 };

export function textAnswer(text: string): ModelAnswer {
  return { content: [{ type: 'text', text }], stop_reason: 'end_turn', usage: { ...ZERO_USAGE }, model: 'claude-bench' };
}
