// edit_file's search for old_string, off the broker's thread (pool.ts): it is
// linear (fs/occurrences.ts), but on the largest file and needle an edit
// allows it is still the biggest piece of work a single call can ask for.
import { ToolFailure } from '../../policy/errors.js';
import { Lease, OffloadTimeout } from './pool.js';

/** A search taking longer than this is given up (a linear search of 1 MiB takes milliseconds). */
const SEARCH_DEADLINE_MS = 2000;

/** Overlapping occurrences of `needle` in `text` and the first one's index (fs/occurrences.ts). */
export async function occurrencesOffThread(text: string, needle: string, signal?: AbortSignal): Promise<{ count: number; first: number }> {
  let lease: Lease | undefined;
  try {
    lease = await Lease.open(Date.now() + SEARCH_DEADLINE_MS, signal);
    const { matches } = await lease.ask({ kind: 'occurrences', text, needle }, SEARCH_DEADLINE_MS);
    lease.close();
    return { count: matches[0]!, first: matches[1]! };
  } catch (err) {
    lease?.kill();
    if (err instanceof OffloadTimeout) throw new ToolFailure(`searching for old_string took over ${SEARCH_DEADLINE_MS / 1000} s; give a shorter old_string`);
    throw err;
  }
}
