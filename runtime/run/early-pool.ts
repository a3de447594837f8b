// The session workers start while the run is being prepared: a worker's boot
// (its own isolate, the worker bundle) runs on another core while the main
// thread reads the policy, the prompts and the provider SDK, instead of after.
// The early pool is sized for the largest tree a policy may allow (threads are
// made on demand; the broker refuses spawns past --max-parallel itself). If the
// prepared run wants another sandbox or heap cap, the early pool is dropped and
// the broker makes its own, as it would have anyway.
import { MAX_PARALLEL_LIMIT } from '../../policy/schema.js';
import { SessionPool } from '../broker/session-pool.js';
import { detectSandbox } from '../broker/worker-sandbox.js';
import type { BrokerOptions } from '../broker/broker.js';
import { DEFAULT_WORKER_MEMORY_MB } from './setup.js';

export class EarlyPool {
  private constructor(private readonly pool: Promise<SessionPool | null>) {}

  /** Starts a pool as a run with the default heap cap would want it (a flag that changes it is seen later). */
  static start(workerMemoryMb: string | undefined): EarlyPool {
    const heap = workerMemoryMb === undefined ? DEFAULT_WORKER_MEMORY_MB : Number(workerMemoryMb);
    const pool = SessionPool.create({ sandbox: detectSandbox(), maxThreads: MAX_PARALLEL_LIMIT + 1, maxOldGenerationSizeMb: heap })
      .catch(() => null); // the broker makes its own and reports what is wrong
    return new EarlyPool(pool);
  }

  /** The pool, for a broker to own, if it fits the prepared run; otherwise it is closed. */
  async handOver(options: Pick<BrokerOptions, 'sandbox' | 'workerMemoryMb'>): Promise<Pick<BrokerOptions, 'pool' | 'ownPool'>> {
    const pool = await this.pool;
    if (pool && pool.options.sandbox === options.sandbox && pool.options.maxOldGenerationSizeMb === options.workerMemoryMb) return { pool, ownPool: true };
    await pool?.close();
    return {};
  }

  /** The run did not start (bad flags, a broken policy). */
  async discard(): Promise<void> {
    await (await this.pool)?.close();
  }
}
