// broker_max_stall_ms: the longest the broker's event loop stood still during
// any single tool call, under the red team's inputs (issue 15): a regex that
// backtracks (`(a+)+$` on a long line of `a` ending in `b`), a glob of many
// `*a` against a long file name, a path of tens of thousands of components,
// and 7 KB of nested arrays as a tool input. A control session makes one such
// call per turn through the real broker; the event-loop delay histogram is
// reset when a turn's answer leaves the provider and read when the next
// request reaches it, so each window holds exactly one tool call.
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
];

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
  });
  const provider = new HostileProvider();
  try {
    const broker = await Broker.create(await benchBrokerOptions(ws, provider));
    try {
      const result = await within(broker.run({ role: 'control', message: 'red team' }), 120_000, 'the stall benchmark');
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
