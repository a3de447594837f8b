// A session worker entry for the tool-call benchmark (loaded by piscina in
// place of workers/session-worker.js, under the same sandbox). Instead of an
// agent loop it calls its granted read_file port back to back and times each
// round trip from inside the worker: request posted -> broker decision,
// effect and audit line -> reply received. The samples (µs) go back as the
// session's final text. The baseline worker (tool-call-bare-worker.ts) runs
// the same loop against a port that only reads the file.
import type { MessagePortLike, SessionOutcome, SessionTask, ToolReply, ToolRequest } from '../capabilities/protocol.js';
import { PortClient } from '../workers/port-client.js';

export interface ToolCallProbe { path: string; warmup: number; calls: number }

/** Times `warmup + calls` read_file round trips on `port`; the samples (µs) after the warm-up. */
export async function timeReadRoundTrips(port: MessagePortLike<ToolReply>, probe: ToolCallProbe): Promise<number[]> {
  const client = new PortClient<ToolRequest, ToolReply>(port);
  const samples: number[] = [];
  for (let i = 0; i < probe.warmup + probe.calls; i++) {
    const t0 = performance.now();
    const reply = await client.request({ type: 'tool_request', tool_use_id: `toolu_${i}`, input: { path: probe.path } });
    const us = (performance.now() - t0) * 1000;
    if (reply.is_error) throw new Error(`read_file failed: ${reply.content}`);
    if (i >= probe.warmup) samples.push(us);
  }
  return samples;
}

export default async function toolCallProbe(task: SessionTask): Promise<SessionOutcome> {
  const first = task.messages[0]?.content;
  // The first message opens with the session's facts; the probe is the JSON after them.
  const text = typeof first === 'string' ? first : '';
  const probe = JSON.parse(text.slice(Math.max(0, text.indexOf('{'))) || '{}') as ToolCallProbe;
  const port = task.tools.read_file;
  if (!port) return { status: 'failed', finalText: '', turns: 0, error: 'read_file is not granted' };
  try {
    const samples = await timeReadRoundTrips(port, probe);
    return { status: 'completed', finalText: JSON.stringify(samples), turns: 0, error: null };
  } catch (err) {
    return { status: 'failed', finalText: '', turns: 0, error: (err as Error).message };
  } finally {
    task.model.close();
    for (const p of Object.values(task.tools)) p.close();
  }
}
