// The thread that computation a model controls runs on (see pool.ts): a
// regex or a glob can backtrack and a diff can be shaped for the worst case,
// for longer than anyone will wait; here that only costs a thread the broker
// terminates, never the broker's own event loop. It holds strings only: no
// filesystem, no ports but its own.
import { parentPort, workerData } from 'node:worker_threads';
import picomatch from 'picomatch';
import { unifiedDiff } from '../fs/diff.js';
import { occurrences } from '../fs/occurrences.js';
import type { OffloadJob, OffloadReply } from './pool.js';

let regex: RegExp | null = null;
let glob: ((name: string) => boolean) | null = null;

/** How often a long job reports how far it got. */
const PROGRESS_MS = 20;

/**
 * Post the index of every item `test` accepts as soon as it is found (and
 * progress every PROGRESS_MS): if a later item hangs, the broker already
 * holds every match before it.
 */
function report(id: number, items: readonly string[], test: (item: string) => boolean): void {
  let last = performance.now();
  for (let i = 0; i < items.length; i++) {
    const hit = test(items[i]!);
    const now = performance.now();
    if (hit || now - last >= PROGRESS_MS) {
      parentPort!.postMessage({ id, progress: i + 1, matches: hit ? [i] : [] } satisfies OffloadReply);
      last = now;
    }
  }
}

function run(job: OffloadJob): OffloadReply {
  switch (job.kind) {
    case 'compile': {
      try {
        regex = job.pattern === undefined ? null : new RegExp(job.pattern);
      } catch (err) {
        return { id: job.id, error: `invalid pattern: ${(err as Error).message}` };
      }
      try {
        // A glob without "/" ("*.ts") matches the file name in any directory. Only
        // then: picomatch's `basename` also rewrites globs that have slashes.
        glob = job.glob === undefined ? null : picomatch(job.glob, { dot: true, basename: !job.glob.includes('/') });
      } catch (err) {
        return { id: job.id, error: `invalid glob ${JSON.stringify(job.glob)}: ${(err as Error).message}` };
      }
      return { id: job.id, matches: [] };
    }
    // Every match was posted as it was found: the final reply only says the job is done.
    case 'lines':
      if (regex) report(job.id, job.items, (line) => regex!.test(line));
      return { id: job.id, matches: [] };
    case 'names':
      if (!glob) return { id: job.id, matches: job.items.map((_, i) => i) };
      report(job.id, job.items, glob);
      return { id: job.id, matches: [] };
    case 'diff':
      return { id: job.id, matches: [], text: unifiedDiff(job.oldText, job.newText, job.options) };
    case 'occurrences': {
      const { count, first } = occurrences(job.text, job.needle);
      return { id: job.id, matches: [count, first] };
    }
  }
}

/** Where the broker reads which job was finished last (see pool.ts). */
const finished = (workerData as { finished: Int32Array }).finished;

parentPort!.on('message', (job: OffloadJob) => {
  let reply: OffloadReply;
  try {
    reply = run(job);
  } catch (err) {
    reply = { id: job.id, error: (err as Error).message ?? String(err) };
  }
  Atomics.store(finished, 0, job.id);
  parentPort!.postMessage(reply);
});
