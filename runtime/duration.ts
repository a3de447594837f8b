// Durations as written on the command line (--session-timeout, --since,
// --older-than): a number and a unit, one of ms, s, m, h, d, w. The unit is
// never implied: `--older-than 30` could mean seconds or days, and guessing
// wrong removes files.
import { UsageError } from '../policy/errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** What --help and error messages show. */
export const DURATION_EXAMPLES = '90s, 5m, 12h or 7d';

/** Milliseconds of "1500ms", "90s", "1.5h", "7d", "2w"; null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/i.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]! : null;
}

/** A duration flag's value in milliseconds, or a one-line usage error naming the flag. */
export function durationFlag(flag: string, value: string, opts: { positive?: boolean } = {}): number {
  const ms = parseDuration(value);
  if (ms === null || (opts.positive && ms <= 0)) {
    throw new UsageError(`${flag} must be a ${opts.positive ? 'positive ' : ''}duration like ${DURATION_EXAMPLES} (got "${value}")`);
  }
  return ms;
}
