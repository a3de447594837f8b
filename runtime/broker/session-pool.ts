// One piscina pool of session workers. A session keeps its thread while it
// waits for its children, so the pool is sized for every session that may run
// at once (root + --max-parallel children); spawns beyond that are refused by
// the broker, never queued behind a waiting parent.
import { pathToFileURL } from 'node:url';
import type { TransferListItem } from 'node:worker_threads';
import type { Piscina as PiscinaType } from 'piscina';
import type { SessionOutcome, SessionTask } from '../../capabilities/protocol.js';
import { workerFiles } from '../paths.js';
import { type SandboxKind, workerExecArgv } from './worker-sandbox.js';

export interface PoolOptions {
  sandbox: SandboxKind;
  maxThreads: number;
  /** Per-worker heap cap (MB); a session over it fails alone. */
  maxOldGenerationSizeMb?: number;
  /** The worker entry (tests point it at a probe); default the session worker. */
  filename?: string;
}

export class SessionPool {
  private constructor(
    private readonly piscina: PiscinaType,
    /** What it was made with: a pool started early serves a run only if these fit. */
    readonly options: Readonly<PoolOptions>,
  ) {}

  static async create(opts: PoolOptions): Promise<SessionPool> {
    const { Piscina } = await import('piscina');
    const piscina = new Piscina({
      // A CommonJS entry loads the worker module asynchronously (see workers/pool-entry.cts).
      filename: pathToFileURL(workerFiles.poolEntry).href,
      workerData: { entry: pathToFileURL(opts.filename ?? workerFiles.sessionWorker).href },
      // One thread up front, for the root: a second one booting (and torn down at exit) costs a one-session run
      // more than a first child pays to start its thread behind a model call.
      minThreads: 1,
      maxThreads: opts.maxThreads,
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
      env: {}, // no API key, no secrets: workers see no environment at all
      execArgv: workerExecArgv(opts.sandbox),
      resourceLimits: opts.maxOldGenerationSizeMb ? { maxOldGenerationSizeMb: opts.maxOldGenerationSizeMb } : undefined,
    });
    return new SessionPool(piscina, opts);
  }

  get threads(): number {
    return this.piscina.threads.length;
  }

  run(task: SessionTask | Record<string, unknown>, transferList: TransferListItem[], signal?: AbortSignal): Promise<SessionOutcome> {
    return this.piscina.run(task, { transferList, signal });
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
