// child_spawn_ms: from the moment a control session's model answer holding a
// spawn_impl_session call leaves the provider, to the child's first model
// request reaching the provider. In between: the reply's port hop to the
// control worker, its tool request back, the spawn (grants, limits, audit,
// ports), piscina handing the task to a warm thread, the child's agent loop
// asking its model port. Spawns run one at a time, so the pool stays warm.
import { Broker } from '../runtime/broker/broker.js';
import type { ModelAnswer, ModelCallSpec, ModelProvider } from '../runtime/providers/provider.js';
import { ZERO_USAGE, benchBrokerOptions, makeBenchWorkspace, removeBenchWorkspace, textAnswer } from './bench-broker.js';
import { summarize, type Summary, within } from './stats.js';

/** Control spawns `spawns` children one per turn; each child ends at its first answer. */
class SpawnTimingProvider implements ModelProvider {
  readonly name = 'script' as const;
  readonly samplesMs: number[] = [];
  private spawnAt = 0;

  constructor(private readonly spawns: number) {}

  async call(spec: ModelCallSpec): Promise<ModelAnswer> {
    const isControl = spec.tools.some((t) => t.name === 'spawn_impl_session');
    if (!isControl) {
      if (spec.messages.length === 1) this.samplesMs.push(performance.now() - this.spawnAt);
      return textAnswer('done');
    }
    const turn = spec.messages.filter((m) => m.role === 'assistant').length;
    if (turn >= this.spawns) return textAnswer('all children done');
    this.spawnAt = performance.now();
    return {
      content: [{ type: 'tool_use', id: `toolu_spawn_${turn}`, name: 'spawn_impl_session', input: { instructions: `child ${turn}: report done` } }],
      stop_reason: 'tool_use',
      usage: { ...ZERO_USAGE },
      model: 'claude-bench',
    };
  }
}

export interface ChildSpawnResult { child_spawn_ms_p50: number; spawn: Summary }

export async function benchChildSpawn(spawns = 80, warmup = 5): Promise<ChildSpawnResult> {
  const ws = makeBenchWorkspace();
  const provider = new SpawnTimingProvider(spawns + warmup);
  try {
    const broker = await Broker.create(await benchBrokerOptions(ws, provider));
    try {
      const result = await within(broker.run({ role: 'control', message: 'spawn children' }), 120_000, 'the spawn benchmark');
      if (result.status !== 'completed') throw new Error(`spawn benchmark ${result.status}: ${result.error}`);
    } finally {
      await broker.close();
    }
    if (provider.samplesMs.length !== spawns + warmup) throw new Error(`expected ${spawns + warmup} children, saw ${provider.samplesMs.length}`);
    const spawn = summarize(provider.samplesMs.slice(warmup));
    return { child_spawn_ms_p50: spawn.p50, spawn };
  } finally {
    removeBenchWorkspace(ws);
  }
}
