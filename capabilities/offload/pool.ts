// Computation whose cost a model controls runs here, on worker threads with a
// deadline the broker enforces, never on the broker's own thread (DESIGN.md
// §1): a regex or a glob that backtracks, a diff shaped against the line
// diff, a substring search over the largest file an edit allows. A job past its deadline, or whose call is aborted (Ctrl-C, session
// timeout), terminates its worker; the broker's event loop never waits on it.
// A small pool of idle workers is kept warm; a worker is held by one caller
// at a time (a lease), so terminating it stops no one else.
import { setMaxListeners } from 'node:events';
import { availableParallelism } from 'node:os';
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
/**
 * Workers alive at once: a model reply holding a thousand search_files calls
 * queues them here instead of starting a thousand threads.
 */
const MAX_WORKERS = Math.max(2, Math.min(4, availableParallelism()));

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
/**
 * The id of the last job each worker finished, written by the worker before it
 * replies: a deadline that passes while the reply waits behind other work on
 * a busy broker thread is not the job's fault, and does not kill it.
 */
const finished = new WeakMap<Worker, Int32Array>();
let alive = 0;
/** Job ids grow across leases, so a worker's `finished` id is never mistaken for a later job's. */
let lastJobId = 0;
/** Callers waiting for a worker, first come first served; false from one that gave up (aborted). */
const waiting: Array<() => boolean> = [];

function wakeOne(): void {
  while (waiting.length > 0 && !waiting.shift()!()) {
    // that caller was aborted: wake the next
  }
}

/**
 * An idle worker, a new one while fewer than MAX_WORKERS are alive, or the
 * next one freed; OffloadTimeout('budget') when `until` passes first.
 */
async function acquire(until: number, signal?: AbortSignal): Promise<Worker> {
  for (;;) {
    signal?.throwIfAborted();
    const worker = idle.pop();
    if (worker) return worker;
    if (alive < MAX_WORKERS) return spawn();
    const left = until - Date.now();
    if (left <= 0) throw new OffloadTimeout('budget');
    await new Promise<void>((resolve, reject) => {
      let gone = false;
      const stop = signal ? onAbortOf(signal, () => give(signal.reason)) : () => {};
      const timer = setTimeout(() => give(new OffloadTimeout('budget')), left);
      function give(reason: unknown): void {
        gone = true;
        clearTimeout(timer);
        stop();
        reject(reason);
      }
      waiting.push(() => {
        if (gone) return false;
        clearTimeout(timer);
        stop();
        resolve();
        return true;
      });
    });
  }
}

// Set by the esbuild bundle (scripts/bundle.mjs), whose flat output names this worker's file differently.
declare const CHORAGEN_BUNDLED: boolean | undefined;
const WORKER_FILE = typeof CHORAGEN_BUNDLED !== 'undefined' && CHORAGEN_BUNDLED ? './offload-worker.js' : './worker.js';

function spawn(): Worker {
  alive += 1;
  const done = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL(WORKER_FILE, import.meta.url), {
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    env: {},
    stdout: true,
    stderr: true,
    workerData: { finished: done },
  });
  finished.set(worker, done);
  online.set(worker, new Promise<void>((resolve) => {
    worker.once('online', resolve);
    worker.once('exit', () => resolve());
  }));
  worker.unref(); // an idle worker never keeps the process alive
  // Always listened to: an unheard 'error' event would end the broker.
  worker.on('error', () => {});
  worker.once('exit', () => {
    const at = idle.indexOf(worker);
    if (at !== -1) idle.splice(at, 1);
    alive -= 1;
    wakeOne();
  });
  return worker;
}

const unlimited = new WeakSet<AbortSignal>();

/**
 * Call `onAbort` when `signal` aborts. A session's signal is shared by all of
 * its concurrent tool calls: each adds a listener, so Node's warning about
 * "more than 10 listeners" would be noise here.
 */
function onAbortOf(signal: AbortSignal, onAbort: () => void): () => void {
  if (!unlimited.has(signal)) {
    setMaxListeners(0, signal);
    unlimited.add(signal);
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/** `promise`, or the abort reason once `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const stop = onAbortOf(signal, () => reject(signal.reason));
    promise.then(resolve, reject).finally(stop);
  });
}



/**
 * A worker held by one caller until `close` (back to the pool) or `kill`.
 * Every job has a deadline: its own stall limit, and `until`, the caller's
 * overall budget; past it, or when `signal` aborts, the worker is terminated.
 */
export class Lease {
  private dead = false;

  private constructor(
    private readonly worker: Worker,
    private readonly until: number,
    private readonly signal?: AbortSignal,
  ) {}

  static async open(until: number, signal?: AbortSignal): Promise<Lease> {
    const worker = await acquire(until, signal);
    worker.ref(); // held: the process waits for it (idle, it is unref'd again)
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
    if (idle.length < IDLE_WORKERS) {
      this.worker.unref();
      idle.push(this.worker);
      wakeOne();
    } else void this.worker.terminate(); // its exit wakes the next caller
  }

  /** End the worker: it may be stuck, or hold state no one should reuse. */
  kill(): void {
    if (!this.dead) void this.worker.terminate();
    this.dead = true;
  }

  /** Run `job`; its matches (partial replies included) and text. ToolFailure for a job's own error. */
  ask(job: Unsent<OffloadJob>, stallMs: number): Promise<{ matches: number[]; text?: string }> {
    if (this.dead) return Promise.reject(new OffloadTimeout('stall'));
    const id = ++lastJobId;
    const left = this.until - Date.now();
    if (left <= 0) return Promise.reject(new OffloadTimeout('budget'));
    const reason: OffloadTimeout['reason'] = left < stallMs ? 'budget' : 'stall';
    return new Promise((resolve, reject) => {
      const partial: number[] = [];
      let stopListening = () => {};
      const done = () => {
        clearTimeout(timer);
        this.worker.off('message', onMessage);
        this.worker.off('error', onError);
        this.worker.off('exit', onExit);
        stopListening();
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
      // Past the deadline, a job the worker already finished only waits for its reply to be read.
      const expire = () => {
        if (Atomics.load(finished.get(this.worker)!, 0) >= id) timer = setTimeout(expire, 10);
        else fail(new OffloadTimeout(reason, partial));
      };
      let timer = setTimeout(expire, Math.min(left, stallMs));
      if (this.signal?.aborted) return onAbort();
      this.worker.on('message', onMessage);
      this.worker.on('error', onError);
      this.worker.on('exit', onExit);
      if (this.signal) stopListening = onAbortOf(this.signal, onAbort);
      try {
        this.worker.postMessage({ ...job, id });
      } catch (err) {
        fail(err as Error);
      }
    });
  }
}
