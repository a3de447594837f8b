// Entry of a session worker thread (piscina). It runs under Node's permission
// model with an empty environment; here it also drops the network globals as
// defense in depth (Node 20's permission model does not cover the network).
import type { SessionOutcome, SessionTask } from '../capabilities/protocol.js';
import { runAgentLoop } from './agent-loop.js';

for (const name of ['fetch', 'WebSocket', 'EventSource', 'XMLHttpRequest']) {
  delete (globalThis as Record<string, unknown>)[name];
}

function sandboxActive(): boolean {
  const permission = (process as unknown as { permission?: { has(scope: string, ref?: string): boolean } }).permission;
  return !!permission && !permission.has('fs.write') && !permission.has('child') && !permission.has('worker');
}

export default async function session(task: SessionTask): Promise<SessionOutcome> {
  if (task.requireSandbox && !sandboxActive()) {
    for (const port of [task.model, ...Object.values(task.tools)]) port.close();
    return { status: 'failed', finalText: '', turns: 0, error: 'the session worker is not sandboxed; refusing to run' };
  }
  return runAgentLoop(task);
}
