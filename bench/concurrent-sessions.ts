// concurrent_sessions: the most sessions one process holds alive at once. A
// control session fans out N-1 impl sessions in one message (the broker runs
// them in parallel, one sandboxed worker thread each); every child's first
// model call is held until all N sessions are alive, then RSS is read and all
// are released. Tried at the target first, then at smaller sizes until one
// succeeds.
import { Broker } from '../runtime/broker/broker.js';
import type { ModelAnswer, ModelCallSpec, ModelProvider } from '../runtime/providers/provider.js';
import { ZERO_USAGE, benchBrokerOptions, makeBenchWorkspace, removeBenchWorkspace, textAnswer } from './bench-broker.js';
import { within } from './stats.js';

class FanOutHoldProvider implements ModelProvider {
  readonly name = 'script' as const;
  private waiting = 0;
  private release!: () => void;
  private readonly released = new Promise<void>((r) => (this.release = r));
  allAlive!: () => void;
  readonly alive = new Promise<void>((r) => (this.allAlive = r));

  constructor(private readonly children: number) {}

  async call(spec: ModelCallSpec): Promise<ModelAnswer> {
    if (!spec.tools.some((t) => t.name === 'spawn_impl_session')) {
      if (++this.waiting === this.children) this.allAlive();
      await this.released;
      return textAnswer('done');
    }
    if (spec.messages.some((m) => m.role === 'assistant')) return textAnswer('all children done');
    const content = Array.from({ length: this.children }, (_, i) => ({
      type: 'tool_use' as const, id: `toolu_${i}`, name: 'spawn_impl_session', input: { instructions: `child ${i}: report done` },
    }));
    return { content, stop_reason: 'tool_use', usage: { ...ZERO_USAGE }, model: 'claude-bench' };
  }

  letGo(): void {
    this.release();
  }
}

export interface ConcurrentResult {
  concurrent_sessions: number;
  rss_mb_at_max: number;
  attempts: Array<{ sessions: number; ok: boolean; ms: number; rss_mb?: number; error?: string }>;
}

async function holdAlive(sessions: number): Promise<{ rssMb: number; ms: number }> {
  const ws = makeBenchWorkspace();
  const provider = new FanOutHoldProvider(sessions - 1);
  const t0 = performance.now();
  try {
    let finished = false;
    const broker = await Broker.create(await benchBrokerOptions(ws, provider, { maxParallel: sessions - 1, maxDepth: 1, workerMemoryMb: 512 }));
    try {
      const run = broker.run({ role: 'control', message: 'fan out' });
      run.then(() => (finished = true), () => (finished = true));
      await within(Promise.race([provider.alive, run.then((r) => { throw new Error(`run ended early: ${r.status} ${r.error}`); })]), 90_000, `${sessions} sessions`);
      const ms = performance.now() - t0;
      const rssMb = process.memoryUsage().rss / 2 ** 20;
      provider.letGo();
      const result = await within(run, 60_000, `ending ${sessions} sessions`);
      if (result.status !== 'completed' || result.sessions !== sessions) throw new Error(`run ${result.status} with ${result.sessions} sessions: ${result.error}`);
      return { rssMb, ms };
    } finally {
      provider.letGo();
      if (!finished) broker.interrupt('bench failed');
      await broker.close();
    }
  } finally {
    removeBenchWorkspace(ws);
  }
}

export async function benchConcurrentSessions(target = 200): Promise<ConcurrentResult> {
  const attempts: ConcurrentResult['attempts'] = [];
  for (const sessions of [target, 150, 100, 50, 20]) {
    if (sessions > target) continue;
    const t0 = performance.now();
    try {
      const { rssMb } = await holdAlive(sessions);
      attempts.push({ sessions, ok: true, ms: Math.round(performance.now() - t0), rss_mb: Math.round(rssMb) });
      return { concurrent_sessions: sessions, rss_mb_at_max: Math.round(rssMb), attempts };
    } catch (err) {
      attempts.push({ sessions, ok: false, ms: Math.round(performance.now() - t0), error: (err as Error).message.split('\n')[0] });
    }
  }
  return { concurrent_sessions: 0, rss_mb_at_max: 0, attempts };
}
