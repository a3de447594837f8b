// Computation whose cost a model controls runs here, on worker threads with a
// deadline the broker enforces, never on the broker's own thread (DESIGN.md
// §1): a regex or a glob that backtracks, a diff shaped against the line
// diff, a substring search over the largest file an edit allows. A job past its deadline, or whose call is aborted (Ctrl-C, session
// timeout), terminates its worker; the broker's event loop never waits on it.
// A small pool of idle workers is kept warm; a worker is held by one caller
// at a time (a lease), so terminating it stops no one else.
import { Worker } from 'node:worker_threads';
import { ToolFailure } from '../../policy/errors.js';
import type { UnifiedDiffOptions } from '../fs/diff.js';

export type OffloadJob =
  | { id: number; kind: 'compile'; pattern?: string; glob?: string }
  | { id: number; kind: 'lines' | 'names'; items: string[] }
  | { id: number; kind: 'diff'; oldText: string; newText: string; options: UnifiedDiffOptions }
  | { id: number; kind: 'occurrences'; text: string; needle: string };
/**
 * A reply to job `id`. `progress`: a partial reply (matches among the items
 * before that index; more replies follow). `text`: a diff job's result. An
 * occurrences job answers `matches: [count, first]`.
 */
export type OffloadReply = { id: number; matches: number[]; progress?: number; text?: string } | { id: number; error: string };
type Unsent<T> = T extends unknown ? Omit<T, 'id'> : never;

/** The worker's heap: a job that allocates past it ends the worker, not the broker. */
const WORKER_HEAP_MB = 128;
/** Idle workers kept warm for the next caller. */
const IDLE_WORKERS = 2;

/** A job did not finish in time (`stall`: its own limit; `budget`: the caller's deadline). */
export class OffloadTimeout extends Error {
  constructor(
    readonly reason: 'stall' | 'budget',
    /** matches among the items the worker got through before it was stopped */
    readonly partial: number[] = [],
  ) {
    super(reason === 'stall' ? 'the job ran past its limit' : 'the time budget ran out');
  }
}

const idle: Worker[] = [];
/** Resolves when a worker is up: its start-up (slow on a loaded machine) is not the job's time. */
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
 * A worker held by one caller until `close` (back to the pool) or `kill`.
 * Every job has a deadline: its own stall limit, and `until`, the caller's
 * overall budget; past it, or when `signal` aborts, the worker is terminated.
 */
export class Lease {
  private nextId = 1;
  private dead = false;

  private constructor(
    private readonly worker: Worker,
    private readonly until: number,
    private readonly signal?: AbortSignal,
  ) {}

  static async open(until: number, signal?: AbortSignal): Promise<Lease> {
    const worker = idle.pop() ?? spawn();
    const lease = new Lease(worker, until, signal);
    try {
      await abortable(online.get(worker)!, signal);
    } catch (err) {
      lease.kill();
      throw err;
    }
    return lease;
  }

  /** Give the worker back for the next caller (or end it, if it is gone). */
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

  /** Run `job`; its matches (partial replies included) and text. ToolFailure for a job's own error. */
  ask(job: Unsent<OffloadJob>, stallMs: number): Promise<{ matches: number[]; text?: string }> {
    if (this.dead) return Promise.reject(new OffloadTimeout('stall'));
    const id = this.nextId++;
    const left = this.until - Date.now();
    if (left <= 0) return Promise.reject(new OffloadTimeout('budget'));
    const reason: OffloadTimeout['reason'] = left < stallMs ? 'budget' : 'stall';
    return new Promise((resolve, reject) => {
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
      const onMessage = (reply: OffloadReply) => {
        if (reply.id !== id) return;
        if ('error' in reply) {
          done();
          reject(new ToolFailure(reply.error));
          return;
        }
        partial.push(...reply.matches);
        if (reply.progress !== undefined) return;
        done();
        resolve({ matches: partial, text: reply.text });
      };
      // A job that exhausts the worker's heap or stack ends it: as good as a timeout.
      const onError = () => fail(new OffloadTimeout('stall', partial));
      const onExit = () => fail(new OffloadTimeout('stall', partial));
      const onAbort = () => fail(this.signal!.reason instanceof Error ? this.signal!.reason : new Error(String(this.signal!.reason ?? 'aborted')));
      const timer = setTimeout(() => fail(new OffloadTimeout(reason, partial)), Math.min(left, stallMs));
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
