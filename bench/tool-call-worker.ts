// A session worker entry for the tool-call benchmark (loaded by piscina in
// place of workers/session-worker.js, under the same sandbox). Instead of an
// agent loop it calls its granted read_file port back to back and times each
// round trip from inside the worker: request posted -> broker decision,
// effect and audit line -> reply received. The samples (µs) go back as the
// session's final text.
import type { SessionOutcome, SessionTask, ToolReply, ToolRequest } from '../capabilities/protocol.js';
import { PortClient } from '../workers/port-client.js';

export interface ToolCallProbe { path: string; warmup: number; calls: number }

export default async function toolCallProbe(task: SessionTask): Promise<SessionOutcome> {
  const first = task.messages[0]?.content;
  // The first message opens with the session's facts; the probe is the JSON after them.
  const text = typeof first === 'string' ? first : '';
  const probe = JSON.parse(text.slice(Math.max(0, text.indexOf('{'))) || '{}') as ToolCallProbe;
  const port = task.tools.read_file;
  if (!port) return { status: 'failed', finalText: '', turns: 0, error: 'read_file is not granted' };
  const client = new PortClient<ToolRequest, ToolReply>(port);
  const samples: number[] = [];
  try {
    for (let i = 0; i < probe.warmup + probe.calls; i++) {
      const t0 = performance.now();
      const reply = await client.request({ type: 'tool_request', tool_use_id: `toolu_${i}`, input: { path: probe.path } });
      const us = (performance.now() - t0) * 1000;
      if (reply.is_error) return { status: 'failed', finalText: '', turns: 0, error: `read_file failed: ${reply.content}` };
      if (i >= probe.warmup) samples.push(us);
    }
  } finally {
    task.model.close();
    for (const p of Object.values(task.tools)) p.close();
  }
  return { status: 'completed', finalText: JSON.stringify(samples), turns: 0, error: null };
}
