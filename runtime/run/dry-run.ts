// `agent:start --dry-run`: what a run would be (workspace, policy, role,
// model, tools, limits, sandbox), checked like a real one but with no model
// and no API key needed. Text for a person, one JSON object with --json.
import { DEFAULT_TOOL_LIMITS } from '../../capabilities/capability.js';
import type { Role } from '../../policy/types.js';
import type { BrokerOptions } from '../broker/broker.js';
import { roleManifest } from '../manifest.js';
import { termLine } from '../terminal/text.js';

export interface DryRunPlan {
  workspace: string;
  role: Role;
  model: string;
  provider: string;
  sandbox: string;
  tools: string[];
  child_tools: string[];
  limits: { max_depth: number; max_parallel: number; max_turns: number; max_tokens: number | null; max_cost: number | null };
  policy: { file: string; hash: string };
  warnings: string[];
}

type PlanOptions = Omit<BrokerOptions, 'onEvent' | 'provider'>;

export function dryRunPlan(options: PlanOptions, role: Role, provider: string, warnings: string[]): DryRunPlan {
  // The same grant computation the manifest and the broker use.
  const manifest = roleManifest(options.policy, role, DEFAULT_TOOL_LIMITS);
  const childTools = manifest.tools.flatMap((t) => (Array.isArray(t.rules.child_tools) ? (t.rules.child_tools as string[]) : []));
  return {
    workspace: options.workspace, role, model: options.model, provider, sandbox: options.sandbox,
    tools: manifest.tools.map((t) => t.name), child_tools: [...new Set(childTools)],
    limits: { max_depth: options.maxDepth, max_parallel: options.maxParallel, max_turns: options.maxTurns, max_tokens: options.maxTokens ?? null, max_cost: options.maxCost ?? null },
    policy: { file: options.policy.file, hash: options.policy.hash },
    warnings,
  };
}

export function dryRunText(plan: DryRunPlan, keyNote: string | null): string {
  const l = plan.limits;
  const rows: Array<[string, string]> = [
    ['workspace', termLine(plan.workspace)],
    ['policy', `${termLine(plan.policy.file)} (sha256 ${plan.policy.hash})`],
    ['role', `${plan.role}, model ${termLine(plan.model)} via ${termLine(plan.provider)}${keyNote ? ` (${keyNote})` : ''}`],
    ['tools', plan.tools.join(', ') || '(none)'],
    ...(plan.child_tools.length ? [['child tools', plan.child_tools.join(', ')] as [string, string]] : []),
    ['limits', `max_depth ${l.max_depth} · max_parallel ${l.max_parallel} · max_turns ${l.max_turns} · max_tokens ${l.max_tokens ?? 'none'} · max_cost ${l.max_cost === null ? 'none' : `$${l.max_cost}`}`],
    ['sandbox', plan.sandbox === 'none' ? 'NONE (--unsafe-no-sandbox)' : `Node permission model (${plan.sandbox})`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return ['dry run: nothing was started, no model was called', ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    ...plan.warnings.map((w) => `warning: ${w}`)].join('\n') + '\n';
}
