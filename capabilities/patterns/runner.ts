// Model-supplied regexes and globs (search_files `pattern` and `glob`) run on
// a worker thread with a deadline the broker enforces: JavaScript regexes
// backtrack, and `(a+)+$` on a long line, or a glob of many `*a` against a
// long name, would otherwise hold the broker's only thread for minutes (no
// Ctrl-C, no session timeout, no other session). The tool keeps JavaScript
// regex semantics (what its description promises and models write); the
// price is a thread hop per batch of lines, and a batch that takes longer
// than the stall limit means a pattern that backtracks: the worker is
// terminated and the search returns what it found.
import { Worker } from 'node:worker_threads';
import { ToolFailure } from '../../policy/errors.js';

export type PatternJob =
  | { id: number; kind: 'compile'; pattern?: string; glob?: string }
  | { id: number; kind: 'lines' | 'names'; items: string[] };
/** `progress`: a partial reply, the matches among the items before that index (more replies follow). */
export type PatternReply = { id: number; matches: number[]; progress?: number } | { id: number; error: string };
type Unsent<T> = T extends unknown ? Omit<T, 'id'> : never;

/** One batch of lines (or names) taking longer than this means the pattern backtracks. */
export const PATTERN_STALL_MS = 1000;
/** The worker's heap: a pattern that allocates past it ends the worker, not the broker. */
const WORKER_HEAP_MB = 128;
/** Idle workers kept warm for the next search. */
const IDLE_WORKERS = 2;

/** The pattern did not finish in time: the search stops and says why. */
export class PatternTimeout extends Error {
  constructor(
    readonly reason: 'stall' | 'budget',
    /** matches among the items the worker got through before it was stopped */
    readonly partial: number[] = [],
  ) {
    super(reason === 'stall' ? `matching took over ${PATTERN_STALL_MS} ms` : 'the search time budget ran out');
  }
}

const idle: Worker[] = [];
/** Resolves when a worker is up: its start-up (slow on a loaded machine) is not the pattern's time. */
const online = new WeakMap<Worker, Promise<void>>();

function spawn(): Worker {
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    env: {},
    stdout: true,
    stderr: true,
  });
  online.set(worker, new Promise<void>((resolve) => {
    worker.once('online', resolve);
    worker.once('exit', () => resolve());
  }));
  worker.unref(); // never what keeps the process alive
  // Always listened to: an unheard 'error' event would end the broker.
  worker.on('error', () => {});
  worker.once('exit', () => {
    const at = idle.indexOf(worker);
    if (at !== -1) idle.splice(at, 1);
  });
  return worker;
}

/** `promise`, or the abort reason once `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A compiled pattern and/or glob on a worker this matcher holds alone. Every
 * call has a deadline (the stall limit, and `until`, the caller's overall
 * budget); a call past it, or aborted by `signal`, terminates the worker.
 */
export class PatternMatcher {
  private nextId = 1;
  private dead = false;

  private constructor(
    private readonly worker: Worker,
    private readonly until: number,
    private readonly signal?: AbortSignal,
  ) {}

  /** Compile `pattern` (a JavaScript regex) and `glob` (picomatch): ToolFailure when either is invalid. */
  static async open(spec: { pattern?: string; glob?: string }, until: number, signal?: AbortSignal): Promise<PatternMatcher> {
    const worker = idle.pop() ?? spawn();
    const matcher = new PatternMatcher(worker, until, signal);
    try {
      await abortable(online.get(worker)!, signal);
      await matcher.ask({ kind: 'compile', ...spec });
    } catch (err) {
      matcher.kill();
      if (err instanceof PatternTimeout) {
        throw new ToolFailure(`the pattern or glob took over ${PATTERN_STALL_MS / 1000} s to compile; simplify it`);
      }
      throw err;
    }
    return matcher;
  }

  /** Indices of the lines the regex matches. */
  lines(items: string[]): Promise<number[]> {
    return this.ask({ kind: 'lines', items });
  }

  /** Indices of the names the glob matches (all of them without a glob). */
  names(items: string[]): Promise<number[]> {
    return this.ask({ kind: 'names', items });
  }

  /** Give the worker back for the next search (or end it, if it is stuck or gone). */
  close(): void {
    if (this.dead) return;
    this.dead = true;
    if (idle.length < IDLE_WORKERS) idle.push(this.worker);
    else void this.worker.terminate();
  }

  /** End the worker: it may be stuck, or hold state no one should reuse. */
  kill(): void {
    if (!this.dead) void this.worker.terminate();
    this.dead = true;
  }

  private ask(job: Unsent<PatternJob>): Promise<number[]> {
    if (this.dead) return Promise.reject(new PatternTimeout('stall'));
    const id = this.nextId++;
    const left = this.until - Date.now();
    if (left <= 0) return Promise.reject(new PatternTimeout('budget'));
    const reason: PatternTimeout['reason'] = left < PATTERN_STALL_MS ? 'budget' : 'stall';
    return new Promise<number[]>((resolve, reject) => {
      const partial: number[] = [];
      const done = () => {
        clearTimeout(timer);
        this.worker.off('message', onMessage);
        this.worker.off('error', onError);
        this.worker.off('exit', onExit);
        this.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: Error) => {
        done();
        this.kill();
        reject(err);
      };
      const onMessage = (reply: PatternReply) => {
        if (reply.id !== id) return;
        if ('error' in reply) {
          done();
          reject(new ToolFailure(reply.error));
          return;
        }
        partial.push(...reply.matches);
        if (reply.progress !== undefined) return;
        done();
        resolve(partial);
      };
      // A pattern that exhausts the worker's heap or stack ends it: as good as a timeout.
      const onError = () => fail(new PatternTimeout('stall', partial));
      const onExit = () => fail(new PatternTimeout('stall', partial));
      const onAbort = () => fail(this.signal!.reason instanceof Error ? this.signal!.reason : new Error(String(this.signal!.reason ?? 'aborted')));
      const timer = setTimeout(() => fail(new PatternTimeout(reason, partial)), Math.min(left, PATTERN_STALL_MS));
      if (this.signal?.aborted) return onAbort();
      this.worker.on('message', onMessage);
      this.worker.on('error', onError);
      this.worker.on('exit', onExit);
      this.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.worker.postMessage({ ...job, id });
      } catch (err) {
        fail(err as Error);
      }
    });
  }
}
