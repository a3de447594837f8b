// A session worker that misbehaves on cue, for crash specs: it runs the real
// agent loop unless its first message asks it to exit, throw or run out of memory.
import type { SessionTask } from '../../capabilities/protocol.js';
import session from '../../workers/session-worker.js';

export default async function crashing(task: SessionTask) {
  const first = JSON.stringify(task.messages[0] ?? '');
  if (first.includes('FAULT:exit')) process.exit(7);
  if (first.includes('FAULT:throw')) throw new Error('worker blew up on purpose');
  if (first.includes('FAULT:oom')) {
    const hog: string[][] = [];
    for (;;) hog.push(new Array(1e6).fill('x'.repeat(16)));
  }
  return session(task);
}
