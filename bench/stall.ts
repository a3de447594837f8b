// broker_max_stall_ms: the longest the broker's event loop stood still during
// any single tool call, under the red team's inputs (issue 15): a regex that
// backtracks (`(a+)+$` on a long line of `a` ending in `b`), a glob of many
// `*a` against a long file name, a path of tens of thousands of components,
// 7 KB of nested arrays as a tool input; and text the broker parses or diffs
// shaped against it: a task file against the task parser, an edit_file
// old_string against substring search, a file against the line diff. An impl
// session makes one such call per turn through the real broker; the
// event-loop delay histogram is reset when a turn's answer leaves the
// provider and read when the next request reaches it, so each window holds
// exactly one tool call.
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import git from 'isomorphic-git';
import { Broker } from '../runtime/broker/broker.js';
import type { ModelAnswer, ModelCallSpec, ModelProvider } from '../runtime/providers/provider.js';
import { ZERO_USAGE, benchBrokerOptions, makeBenchWorkspace, removeBenchWorkspace, textAnswer } from './bench-broker.js';
import { within } from './stats.js';

const LONG_NAME = 'a'.repeat(200);

/** The red team's calls, one per turn, with a name for the table. */
const CALLS: Array<{ name: string; tool: string; input: unknown }> = [
  { name: 'read_file (baseline)', tool: 'read_file', input: { path: 'src/index.ts' } },
  { name: 'regex (a+)+$', tool: 'search_files', input: { pattern: '(a+)+$', path: 'docs/redos.txt' } },
  { name: 'glob *a x14', tool: 'search_files', input: { pattern: 'x', glob: `${'*a'.repeat(14)}c` } },
  { name: 'path of 30,000 components', tool: 'list_files', input: { path: 'a/'.repeat(30_000) } },
  { name: '7 KB of nested arrays', tool: 'read_file', input: { path: JSON.parse(`${'['.repeat(3500)}${']'.repeat(3500)}`) } },
  { name: 'task file vs parser', tool: 'task_list', input: { chain_id: 'CHAIN-001-slow' } },
  { name: 'old_string vs substring search', tool: 'edit_file', input: { path: 'docs/big.md', old_string: `${'a'.repeat(50_000)}b${'a'.repeat(50_000)}`, new_string: 'x' } },
  { name: 'file vs line diff', tool: 'git_diff', input: { path: 'docs/diff.md' } },
];

/** Lines `y` every `mod` lines, `x` otherwise: alternating against thirds is a worst case of the line diff. */
const periodic = (mod: number) => Array.from({ length: 520_000 }, (_, i) => (i % mod ? 'x' : 'y')).join('\n') + '\n';

class HostileProvider implements ModelProvider {
  readonly name = 'script' as const;
  readonly stallsMs: number[] = [];
  private readonly delay = monitorEventLoopDelay({ resolution: 1 });

  async call(spec: ModelCallSpec): Promise<ModelAnswer> {
    const turn = spec.messages.filter((m) => m.role === 'assistant').length;
    if (turn > 0) {
      this.delay.disable();
      this.stallsMs.push(this.delay.max / 1e6);
    }
    if (turn >= CALLS.length) return textAnswer('done');
    const call = CALLS[turn]!;
    this.delay.reset();
    this.delay.enable();
    return {
      content: [{ type: 'tool_use', id: `toolu_stall_${turn}`, name: call.tool, input: call.input }],
      stop_reason: 'tool_use',
      usage: { ...ZERO_USAGE },
      model: 'claude-bench',
    };
  }
}

export interface StallResult {
  broker_max_stall_ms: number;
  /** call name -> its window's longest stall */
  perCall: Record<string, number>;
}

export async function benchStall(): Promise<StallResult> {
  const ws = makeBenchWorkspace({
    'src/index.ts': 'export {};\n',
    'docs/redos.txt': `${'a'.repeat(1990)}b\n`,
    [`src/${LONG_NAME}`]: 'a long name\n',
    'docs/big.md': 'a'.repeat(1_000_000),
    'docs/diff.md': periodic(2),
    'docs/tasks/.chains/CHAIN-001-slow.json': JSON.stringify({ id: 'CHAIN-001-slow', title: 'slow', tasks: ['001-slow'] }),
    'docs/tasks/todo/CHAIN-001-slow/001-slow.md':
      `# Task: slow${' \t'.repeat(100_000)}x\n\n**Status**: todo\n**Owner**: a${' \t'.repeat(200_000)}x\n\n## Objective\n\nx${' '.repeat(400_000)}x\n`,
  });
  await git.init({ fs, dir: ws, defaultBranch: 'main' });
  await git.add({ fs, dir: ws, filepath: 'docs/diff.md' });
  await git.commit({ fs, dir: ws, message: 'base', author: { name: 'bench', email: 'bench@localhost' } });
  fs.writeFileSync(path.join(ws, 'docs/diff.md'), periodic(3));
  const provider = new HostileProvider();
  try {
    const broker = await Broker.create(await benchBrokerOptions(ws, provider));
    try {
      const result = await within(broker.run({ role: 'impl', message: 'red team' }), 120_000, 'the stall benchmark');
      if (result.status !== 'completed') throw new Error(`stall benchmark ${result.status}: ${result.error}`);
    } finally {
      await broker.close();
    }
    if (provider.stallsMs.length !== CALLS.length) throw new Error(`expected ${CALLS.length} tool calls, saw ${provider.stallsMs.length}`);
    const perCall = Object.fromEntries(CALLS.map((c, i) => [c.name, provider.stallsMs[i]!]));
    return { broker_max_stall_ms: Math.max(...provider.stallsMs), perCall };
  } finally {
    removeBenchWorkspace(ws);
  }
}
