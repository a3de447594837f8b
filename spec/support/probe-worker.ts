// A worker that tries everything a compromised session loop might try. It is
// started by the real SessionPool with the real sandbox flags and env.
import fs from 'node:fs';
import cp from 'node:child_process';
import { Worker } from 'node:worker_threads';
import '../../workers/session-worker.js'; // the real boot: drops network globals

export default async function probe(task: { secretFile: string; writeDir: string }) {
  const attempt = (f: () => unknown): string => {
    try {
      f();
      return 'allowed';
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? 'error';
    }
  };
  return {
    read: attempt(() => fs.readFileSync(task.secretFile, 'utf8')),
    write: attempt(() => fs.writeFileSync(`${task.writeDir}/planted.txt`, 'x')),
    spawn: attempt(() => cp.execFileSync('/bin/echo', ['hi'])),
    worker: attempt(() => new Worker('process.exit(0)', { eval: true })),
    envKeys: Object.keys(process.env),
    fetch: typeof (globalThis as any).fetch,
  };
}
