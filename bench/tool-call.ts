// tool_call_overhead_us: what the broker adds to a read_file. A sandboxed
// session worker (bench/tool-call-worker.ts) calls its granted read_file port
// on a small file and times each round trip (port hop both ways, schema
// check, canonical path, policy decision, the read, audit line). The
// baseline is the same read done the same way without choragen: a worker
// thread timing the same loop against a port whose main-thread end reads the
// file and numbers its lines (bench/tool-call-bare-worker.ts). The baseline
// runs before and after the probe so drift on a shared machine falls on both.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { Broker } from '../runtime/broker/broker.js';
import { distRoot } from '../runtime/paths.js';
import { ProviderError } from '../policy/errors.js';
import { SessionPool } from '../runtime/broker/session-pool.js';
import type { ToolReply, ToolRequest } from '../capabilities/protocol.js';
import { benchBrokerOptions, makeBenchWorkspace, removeBenchWorkspace, smallSource } from './bench-broker.js';
import { summarize, type Summary, within } from './stats.js';
import type { ToolCallProbe } from './tool-call-worker.js';

const FILE = 'packages/core/src/index.ts';
const WARMUP = 500;

export interface ToolCallResult {
  tool_call_overhead_us_p50: number;
  tool_call_overhead_us_p99: number;
  roundTrip: Summary;
  bare: Summary;
}

export async function benchToolCall(calls = 5000): Promise<ToolCallResult> {
  const ws = makeBenchWorkspace({ [FILE]: smallSource(40) });
  try {
    const probe: ToolCallProbe = { path: FILE, warmup: WARMUP, calls };
    const bareBefore = await bareRoundTrips(path.join(ws, FILE), probe);
    const roundTrip = summarize(await choragenRoundTrips(ws, probe));
    const bareAfter = await bareRoundTrips(path.join(ws, FILE), probe);
    const bare = summarize([...bareBefore, ...bareAfter]);
    return {
      tool_call_overhead_us_p50: roundTrip.p50 - bare.p50,
      tool_call_overhead_us_p99: roundTrip.p99 - bare.p99,
      roundTrip,
      bare,
    };
  } finally {
    removeBenchWorkspace(ws);
  }
}

/** read_file round trips through the broker, timed in a sandboxed session worker. */
async function choragenRoundTrips(ws: string, probe: ToolCallProbe): Promise<number[]> {
  const noModel = { name: 'script' as const, call: async () => { throw new ProviderError('the tool-call probe never asks the model', false); } };
  const options = await benchBrokerOptions(ws, noModel);
  const pool = await SessionPool.create({ sandbox: options.sandbox, maxThreads: 1, filename: path.join(distRoot, 'bench', 'tool-call-worker.js') });
  try {
    const broker = await Broker.create({ ...options, pool });
    const result = await within(broker.run({ role: 'impl', message: JSON.stringify(probe) }), 120_000, 'the tool-call probe');
    await broker.close();
    if (result.status !== 'completed') throw new Error(`tool-call probe ${result.status}: ${result.error}`);
    return JSON.parse(result.finalText) as number[];
  } finally {
    await pool.close();
  }
}

/** The same loop in a plain worker against a port that reads the file and numbers its lines on the main thread. */
async function bareRoundTrips(file: string, probe: ToolCallProbe): Promise<number[]> {
  const { port1: mine, port2: theirs } = new MessageChannel();
  mine.on('message', (request: ToolRequest) => {
    const content = readFileSync(file, 'utf8').split('\n').map((line, i) => `${i + 1}\t${line}`).join('\n');
    mine.postMessage({ type: 'tool_reply', id: request.id, content, is_error: false } satisfies ToolReply);
  });
  const worker = new Worker(path.join(distRoot, 'bench', 'tool-call-bare-worker.js'), { workerData: { port: theirs, probe }, transferList: [theirs] });
  try {
    const answer = await within(new Promise<{ samples?: number[]; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }), 120_000, 'the bare read probe');
    if (!answer.samples) throw new Error(`bare read probe failed: ${answer.error}`);
    return answer.samples;
  } finally {
    mine.close();
    await worker.terminate();
  }
}
