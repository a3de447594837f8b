// tool_call_overhead_us: what the broker adds to a read_file. A sandboxed
// session worker (bench/tool-call-worker.ts) calls its granted read_file port
// on a small file and times each round trip (port hop both ways, schema
// check, canonical path, policy decision, the read itself, audit line); the
// bare fs.promises.readFile of the same file is timed on the main thread and
// subtracted, percentile by percentile.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Broker } from '../runtime/broker/broker.js';
import { distRoot } from '../runtime/paths.js';
import { ProviderError } from '../policy/errors.js';
import { SessionPool } from '../runtime/broker/session-pool.js';
import { benchBrokerOptions, makeBenchWorkspace, removeBenchWorkspace, smallSource } from './bench-broker.js';
import { summarize, type Summary, within } from './stats.js';
import type { ToolCallProbe } from './tool-call-worker.js';

const FILE = 'packages/core/src/index.ts';

export interface ToolCallResult {
  tool_call_overhead_us_p50: number;
  tool_call_overhead_us_p99: number;
  roundTrip: Summary;
  bare: Summary;
}

export async function benchToolCall(calls = 5000): Promise<ToolCallResult> {
  const ws = makeBenchWorkspace({ [FILE]: smallSource(40) });
  const noModel = { name: 'script' as const, call: async () => { throw new ProviderError('the tool-call probe never asks the model', false); } };
  const options = await benchBrokerOptions(ws, noModel);
  const pool = await SessionPool.create({ sandbox: options.sandbox, maxThreads: 1, filename: path.join(distRoot, 'bench', 'tool-call-worker.js') });
  try {
    const broker = await Broker.create({ ...options, pool });
    const probe: ToolCallProbe = { path: FILE, warmup: 500, calls };
    const result = await within(broker.run({ role: 'impl', message: JSON.stringify(probe) }), 120_000, 'the tool-call probe');
    await broker.close();
    if (result.status !== 'completed') throw new Error(`tool-call probe ${result.status}: ${result.error}`);
    const roundTrip = summarize(JSON.parse(result.finalText) as number[]);

    const abs = path.join(ws, FILE);
    const bareSamples: number[] = [];
    for (let i = 0; i < 500 + calls; i++) {
      const t0 = performance.now();
      await readFile(abs, 'utf8');
      if (i >= 500) bareSamples.push((performance.now() - t0) * 1000);
    }
    const bare = summarize(bareSamples);
    return {
      tool_call_overhead_us_p50: roundTrip.p50 - bare.p50,
      tool_call_overhead_us_p99: roundTrip.p99 - bare.p99,
      roundTrip,
      bare,
    };
  } finally {
    await pool.close();
    removeBenchWorkspace(ws);
  }
}
