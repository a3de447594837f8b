// search_files' `pattern` (a JavaScript regex) and `glob` (picomatch), run on
// an offload worker (pool.ts). JavaScript regex semantics are kept: what the
// tool's description promises and what models write (a linear-time engine
// would refuse backreferences and lookaround). The price is a thread hop per
// batch of lines; a batch that takes longer than PATTERN_STALL_MS means a
// pattern that backtracks: the worker is terminated and the search returns
// what it found before.
import { ToolFailure } from '../../policy/errors.js';
import { Lease, OffloadTimeout } from './pool.js';

/** One batch of lines (or names) taking longer than this means the pattern backtracks. */
export const PATTERN_STALL_MS = 1000;

/** The pattern did not finish in time: the search stops, with the matches found before. */
export { OffloadTimeout as PatternTimeout };

/** A compiled pattern and/or glob, on a worker this matcher holds alone. */
export class PatternMatcher {
  private constructor(private readonly lease: Lease) {}

  /**
   * Compile `pattern` and `glob` on a worker (waiting for one while the pool
   * is busy): a ToolFailure when either is invalid or too slow to compile,
   * a PatternTimeout('budget') when `until` passed first.
   */
  static async open(spec: { pattern?: string; glob?: string }, until: number, signal?: AbortSignal): Promise<PatternMatcher> {
    const lease = await Lease.open(until, signal);
    try {
      await lease.ask({ kind: 'compile', ...spec }, PATTERN_STALL_MS);
    } catch (err) {
      lease.kill();
      if (err instanceof OffloadTimeout && err.reason === 'stall') {
        throw new ToolFailure(`the pattern or glob took over ${PATTERN_STALL_MS / 1000} s to compile; simplify it`);
      }
      throw err; // a budget spent waiting for a worker: the caller says so
    }
    return new PatternMatcher(lease);
  }

  /** Indices of the lines the regex matches. */
  async lines(items: string[]): Promise<number[]> {
    return (await this.lease.ask({ kind: 'lines', items }, PATTERN_STALL_MS)).matches;
  }

  /** Indices of the names the glob matches (all of them without a glob). */
  async names(items: string[]): Promise<number[]> {
    return (await this.lease.ask({ kind: 'names', items }, PATTERN_STALL_MS)).matches;
  }

  close(): void {
    this.lease.close();
  }
}
