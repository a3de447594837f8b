// policy_decisions_per_s: the decision function over choragen's own governance
// file and a fixed mix of 10,000 (role, action, path) requests shaped like a
// monorepo's traffic; the same mix through the naive per-call glob matcher
// gives policy_naive_decisions_per_s, for the ratio.
import path from 'node:path';
import { loadPolicy } from '../policy/load.js';
import type { Action, CompiledPolicy, Role } from '../policy/types.js';
import { packageRoot } from '../runtime/paths.js';
import { naiveDecide } from './naive-policy.js';
import { median, seededRandom, weightedPick } from './stats.js';

export const POLICY_FIXTURE = path.join(packageRoot, 'bench', 'fixtures', 'choragen.governance.yaml');

export interface PolicyRequest { role: Role; action: Action; path: string }

/** 10,000 requests: sources and tests mostly, then docs, config, build output, secrets and git internals. */
export function policyMix(count = 10_000, seed = 8): PolicyRequest[] {
  const rnd = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const pkgs = ['core', 'cli', 'contracts', 'governance', 'mcp', 'web', 'testing', 'eslint-plugin'];
  const dirs = ['', 'commands/', 'tasks/', 'chains/', 'utils/', 'governance/rules/', 'metrics/', 'adapters/fs/'];
  const names = ['index', 'types', 'loader', 'task-manager', 'chain', 'governance-checker', 'lock', 'parse', 'format'];
  const kinds: Array<[number, () => string]> = [
    [0.34, () => `packages/${pick(pkgs)}/src/${pick(dirs)}${pick(names)}.ts`],
    [0.14, () => `packages/${pick(pkgs)}/__tests__/${pick(dirs)}${pick(names)}.test.ts`],
    [0.10, () => `docs/${pick(['design/core/features', 'tasks/todo/CHAIN-042-metrics', 'adr/done', 'requests/change-requests'])}/${pick(names)}.md`],
    [0.03, () => `templates/${pick(['task', 'chain', 'adr'])}/${pick(names)}.md`],
    [0.06, () => pick(['package.json', `packages/${pick(pkgs)}/package.json`, 'tsconfig.json', `packages/${pick(pkgs)}/tsconfig.build.json`])],
    [0.06, () => `packages/${pick(pkgs)}/dist/${pick(dirs)}${pick(names)}.js`],
    [0.05, () => `${pick(['', `packages/${pick(pkgs)}/`])}node_modules/${pick(['yaml', '@types/node', 'typescript'])}/index.js`],
    [0.02, () => `.git/${pick(['HEAD', 'config', 'objects/ab/cdef0123', 'refs/heads/main'])}`],
    [0.03, () => pick(['.env', '.env.local', 'server.key', 'cert.pem', `packages/${pick(pkgs)}/.env`])],
    [0.01, () => 'choragen.governance.yaml'],
    [1.00, () => pick(['README.md', 'scripts/build.mjs', '.github/workflows/ci.yml', `packages/${pick(pkgs)}/README.md`, 'pnpm-lock.yaml'])],
  ];
  const actions: Array<[number, Action]> = [[0.40, 'read'], [0.30, 'modify'], [0.20, 'create'], [0.07, 'delete'], [1.00, 'move']];
  const weighted = <T>(table: Array<[number, T]>): T => weightedPick(rnd, table);
  const mix: PolicyRequest[] = [];
  for (let i = 0; i < count; i++) {
    mix.push({ role: rnd() < 0.7 ? 'impl' : 'control', action: weighted(actions), path: weighted(kinds)() });
  }
  return mix;
}

/** Decisions per second of `decide` over `mix`: best-of-noise median of `reps` timed runs of at least `minMs` each. */
function rate(mix: readonly PolicyRequest[], decide: (r: PolicyRequest) => unknown, reps: number, minMs: number): number {
  const rates: number[] = [];
  let sink = 0;
  for (let rep = 0; rep < reps; rep++) {
    let done = 0;
    const t0 = performance.now();
    let elapsed = 0;
    do {
      for (let i = 0; i < mix.length; i++) if (decide(mix[i]!) !== undefined) sink++;
      done += mix.length;
      elapsed = performance.now() - t0;
    } while (elapsed < minMs);
    rates.push(done / (elapsed / 1000));
  }
  if (sink === 0) throw new Error('no decisions were made');
  return median(rates);
}

export interface PolicyBenchResult {
  policy_decisions_per_s: number;
  policy_naive_decisions_per_s: number;
  verdicts: Record<string, number>;
}

export async function benchPolicy(): Promise<PolicyBenchResult> {
  const policy: CompiledPolicy = await loadPolicy(POLICY_FIXTURE);
  const mix = policyMix();
  // Both deciders must agree on every request, or the ratio compares different work.
  const verdicts: Record<string, number> = {};
  for (const r of mix) {
    const fast = policy.decide(r.role, r.action, r.path).decision;
    const naive = naiveDecide(policy.source, r.role, r.action, r.path);
    if (fast !== naive) throw new Error(`naive matcher disagrees on ${r.role} ${r.action} ${r.path}: ${naive} vs ${fast}`);
    verdicts[fast] = (verdicts[fast] ?? 0) + 1;
  }
  rate(mix, (r) => policy.decide(r.role, r.action, r.path), 3, 100); // JIT warm-up
  const compiled = rate(mix, (r) => policy.decide(r.role, r.action, r.path), 7, 300);
  const naive = rate(mix, (r) => naiveDecide(policy.source, r.role, r.action, r.path), 5, 300);
  return { policy_decisions_per_s: Math.round(compiled), policy_naive_decisions_per_s: Math.round(naive), verdicts };
}
