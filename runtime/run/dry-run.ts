// `agent:start --dry-run`: what a run would be (workspace, policy, role,
// model and provider, tools, the roles it may start, limits, sandbox),
// checked like a real one but with no model and no API key needed. Text for a
// person, one JSON object with --json.
import type { Role } from '../../policy/types.js';
import type { BrokerOptions } from '../broker/broker.js';
import { roleEndpoint } from '../broker/role-models.js';
import { roleManifest } from '../manifest.js';
import { contextWindowOf } from '../providers/context-windows.js';
import { PROVIDER_ENV } from '../providers/registry.js';
import { termLine } from '../terminal/text.js';

interface Endpoint { model: string; provider: string; key: string | null }

export interface DryRunPlan extends Endpoint {
  workspace: string;
  role: Role;
  sandbox: string;
  tools: string[];
  /** The roles this one may start, with what each would be offered and run on. */
  children: Record<string, Endpoint & { tools: string[] }>;
  limits: {
    max_depth: number; max_parallel: number; max_turns: number; max_tokens: number | null; max_cost: number | null;
    context_window: number; request_timeout_s: number;
  };
  policy: { file: string; hash: string };
  warnings: string[];
}

type PlanOptions = Omit<BrokerOptions, 'onEvent'>;

/** Whether the key a provider needs is in the environment (never its value). */
function endpointOf(options: PlanOptions, role: Role): Endpoint {
  const { model, provider } = roleEndpoint(options.policy, role, options.defaults);
  if (provider === 'script') return { model, provider, key: null };
  const variable = PROVIDER_ENV[provider].key;
  return { model, provider, key: `${variable} is ${process.env[variable] ? 'set' : 'not set: a real run needs it, or --provider script'}` };
}

export function dryRunPlan(options: PlanOptions, role: Role, warnings: string[]): DryRunPlan {
  // The same grant computation the manifest and the broker use.
  const settings = { toolLimits: options.toolLimits, defaults: options.defaults, prompts: options.rolePrompts ?? new Map() };
  const toolsOf = (r: Role) => roleManifest(options.policy, r, settings).tools.map((t) => t.name);
  const endpoint = endpointOf(options, role);
  const children = Object.fromEntries(options.policy.spawnsFor(role).map((r) => [r, { ...endpointOf(options, r), tools: toolsOf(r) }]));
  return {
    workspace: options.workspace, role, ...endpoint, sandbox: options.sandbox,
    tools: toolsOf(role), children,
    limits: {
      max_depth: options.maxDepth, max_parallel: options.maxParallel, max_turns: options.maxTurns, max_tokens: options.maxTokens ?? null, max_cost: options.maxCost ?? null,
      context_window: contextWindowOf(endpoint.model, options.contextWindow).tokens, request_timeout_s: (options.requestTimeoutMs ?? 0) / 1000,
    },
    policy: { file: options.policy.file, hash: options.policy.hash },
    warnings,
  };
}

export function dryRunText(plan: DryRunPlan): string {
  const l = plan.limits;
  const via = (e: Endpoint) => `model ${termLine(e.model)} via ${termLine(e.provider)}${e.key ? ` (${e.key})` : ''}`;
  const rows: Array<[string, string]> = [
    ['workspace', termLine(plan.workspace)],
    ['policy', `${termLine(plan.policy.file)} (sha256 ${plan.policy.hash})`],
    ['role', `${plan.role}, ${via(plan)}`],
    ['tools', plan.tools.join(', ') || '(none)'],
    ...Object.entries(plan.children).map(([r, c]): [string, string] => [`may start ${r}`, `${via(c)}; tools ${c.tools.join(', ') || '(none)'}`]),
    ['limits', `max_depth ${l.max_depth} · max_parallel ${l.max_parallel} · max_turns ${l.max_turns} · max_tokens ${l.max_tokens ?? 'none'} · max_cost ${l.max_cost === null ? 'none' : `$${l.max_cost}`}`],
    ['model calls', `context window ${l.context_window} tokens · request timeout ${l.request_timeout_s}s`],
    ['sandbox', plan.sandbox === 'none' ? 'NONE (--unsafe-no-sandbox)' : `Node permission model (${plan.sandbox})`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return ['dry run: nothing was started, no model was called', ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    ...plan.warnings.map((w) => `warning: ${termLine(w)}`)].join('\n') + '\n';
}
