// search_files: lines matching a JavaScript regular expression, as `path:line: text`.

import { Type } from '@sinclair/typebox';
import { ToolFailure } from '../policy/errors.js';
import { DEFAULT_TOOL_LIMITS as LIMITS, defineCapability, type AuthorizedPath, type ToolContext } from './capability.js';
import { openFile } from './fs/authority.js';
import { OutputBudget, cutLine, displayPath, plural, withNotes } from './fs/output.js';
import { existingEntry, looksBinary, readSample, scanLines } from './fs/read.js';
import { walk } from './fs/walk.js';
import { PATTERN_STALL_MS, PatternMatcher, PatternTimeout } from './offload/patterns.js';

/** Bigger files are not searched (named in a note): they are data, not source. */
export const SEARCH_MAX_FILE_BYTES = 10 * 1024 * 1024;
/**
 * A whole search stops after this long. The pattern and glob run on a worker
 * (offload/patterns.ts), so a slow one never blocks the broker: it only ends
 * the search early, with what was found.
 */
export const SEARCH_TIME_BUDGET_MS = 10_000;
/** Lines (or file names) sent to the pattern worker at a time. */
const BATCH_ITEMS = 2048;
/** Characters of lines sent to the pattern worker at a time. */
const BATCH_CHARS = 512 * 1024;

export const searchFiles = defineCapability({
  name: 'search_files',
  description:
    'Search text files of the workspace for a JavaScript regular expression (no flags), e.g. function \\w+\\( . ' +
    'Returns matching lines as "path:line: text", files in sorted order. `path` limits the search to a directory ' +
    'or file; `glob` keeps only files whose workspace-relative path matches it (e.g. "**/*.ts", or "*.md" for any ' +
    'directory). Binary files, symlinks, hard-linked files, .git, node_modules and .choragen are skipped. At most ' +
    `${LIMITS.searchMatches} matches; each line is searched and shown up to ${LIMITS.lineLength} characters; ` +
    'a note says what was cut. A pattern or glob that backtracks (over 1 s on a batch of lines) stops the search, ' +
    'with the matches found before it.',
  input: Type.Object(
    {
      pattern: Type.String({ maxLength: 4096, description: 'JavaScript regular expression, matched against each line' }),
      path: Type.Optional(Type.String({ description: 'Directory or file to search, relative to the workspace (default ".")' })),
      glob: Type.Optional(Type.String({ maxLength: 4096, description: 'Only files whose relative path matches this glob, e.g. "src/**/*.ts"' })),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['control', 'impl'],
  actions: ['read'],

  async run(ctx, input) {
    const deadline = Date.now() + SEARCH_TIME_BUDGET_MS;
    let matcher: PatternMatcher;
    try {
      matcher = await PatternMatcher.open({ pattern: input.pattern, glob: input.glob }, deadline, ctx.signal);
    } catch (err) {
      if (!(err instanceof PatternTimeout)) throw err;
      throw new ToolFailure(`search not started: other searches held every pattern worker for ${SEARCH_TIME_BUDGET_MS / 1000} s; try again`);
    }
    const search = new Search(ctx, matcher, deadline);
    try {
      const target = await ctx.authorize(input.path ?? '.', 'read');
      const shown = displayPath(target.rel);
      const stats = existingEntry(target, 'searching', `no such file or directory: ${shown}`);
      if (stats.isDirectory()) {
        const files = walk(target, { recursive: true, canRead: (rel) => ctx.canRead(rel), signal: ctx.signal });
        const batch: AuthorizedPath[] = [];
        for await (const entry of files) {
          if (entry.kind !== 'file') continue;
          batch.push(entry.path);
          if (batch.length >= BATCH_ITEMS && !(await search.files(batch.splice(0), input.glob !== undefined))) break;
        }
        if (!search.stopped) await search.files(batch, input.glob !== undefined);
      } else {
        await search.files([target], input.glob !== undefined);
      }
      const notes = search.notes();
      if (search.matches === 0) {
        const where = input.glob === undefined ? shown : `${shown} (glob ${input.glob})`;
        return withNotes(`no matches for /${input.pattern}/ in ${where}`, notes);
      }
      return withNotes(search.budget.lines.join('\n'), notes);
    } finally {
      matcher.close();
    }
  },
});

/** One line waiting for the pattern worker. */
interface PendingLine {
  rel: string;
  number: number;
  text: string;
  droppedChars: number;
}

/** The running state of one search call: matches, caps, and what was skipped. */
class Search {
  readonly budget: OutputBudget;
  matches = 0;
  private moreMatches = false;
  private timedOut: PatternTimeout['reason'] | null = null;
  private longLines = 0;
  private largeFiles = 0;
  private pending: PendingLine[] = [];
  private pendingChars = 0;

  constructor(
    private readonly ctx: ToolContext,
    private readonly matcher: PatternMatcher,
    private readonly deadline: number,
  ) {
    this.budget = new OutputBudget(ctx.limits.outputBytes);
  }

  get stopped(): boolean {
    return this.moreMatches || this.timedOut !== null || this.budget.full;
  }

  /** Search these files in order (after the glob, when `globbed`); false once the search should stop. */
  async files(paths: AuthorizedPath[], globbed: boolean): Promise<boolean> {
    let kept = paths;
    if (globbed && paths.length > 0) {
      const picked = await this.guard(() => this.matcher.names(paths.map((p) => p.rel)));
      // A glob that ran out of time took its worker (and the compiled pattern) with it: the search ends here.
      if (this.stopped) return false;
      kept = picked.map((i) => paths[i]!);
    }
    for (const path of kept) {
      if (this.stopped) return false;
      if (Date.now() > this.deadline) {
        this.timedOut = 'budget';
        return false;
      }
      await this.read(path);
      if (this.pendingChars >= BATCH_CHARS || this.pending.length >= BATCH_ITEMS) await this.flush();
    }
    await this.flush();
    return !this.stopped;
  }

  /** Queue the lines of one file for matching. */
  private async read(path: AuthorizedPath): Promise<void> {
    const { lineLength } = this.ctx.limits;
    let opened;
    try {
      opened = await openFile(path);
    } catch {
      return; // vanished, a link, or not a regular file: nothing to search
    }
    const { handle, size } = opened;
    try {
      if (size > SEARCH_MAX_FILE_BYTES) {
        this.largeFiles += 1;
        return;
      }
      if (size === 0 || looksBinary(await readSample(handle))) return;
      await scanLines(
        handle,
        lineLength,
        (line) => {
          if (line.droppedChars > 0) this.longLines += 1;
          this.pending.push({ rel: path.rel, number: line.number, text: line.text, droppedChars: line.droppedChars });
          this.pendingChars += line.text.length;
        },
        this.ctx.signal,
        // Matched as it is read: a big file of short lines is never all queued at once.
        async () => {
          if (this.pendingChars >= BATCH_CHARS || this.pending.length >= BATCH_ITEMS) await this.flush();
          return !this.stopped;
        },
      );
    } finally {
      await handle.close();
    }
  }

  /** Match the queued lines, a batch at a time, and keep the matches in order. */
  private async flush(): Promise<void> {
    const { lineLength, searchMatches } = this.ctx.limits;
    const pending = this.pending;
    this.pending = [];
    this.pendingChars = 0;
    for (let at = 0; at < pending.length && !this.stopped; ) {
      let chars = 0;
      let n = 0;
      while (at + n < pending.length && n < BATCH_ITEMS && chars < BATCH_CHARS) chars += pending[at + n++]!.text.length;
      const batch = pending.slice(at, at + n);
      at += n;
      const hits = await this.guard(() => this.matcher.lines(batch.map((l) => l.text)));
      for (const i of hits) {
        const line = batch[i]!;
        if (this.matches >= searchMatches) {
          this.moreMatches = true;
          break;
        }
        const text = cutLine(line.text, lineLength, line.droppedChars).text;
        if (!this.budget.add(`${displayPath(line.rel)}:${line.number}: ${text}`)) break;
        this.matches += 1;
      }
    }
  }

  /** A worker call. When it runs out of time the search stops, with the matches found before that. */
  private async guard(call: () => Promise<number[]>): Promise<number[]> {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof PatternTimeout)) throw err;
      this.timedOut = err.reason;
      return err.partial;
    }
  }

  notes(): string[] {
    const { lineLength, outputBytes, searchMatches } = this.ctx.limits;
    const notes: string[] = [];
    if (this.moreMatches) notes.push(`stopped at ${searchMatches} matches; narrow the pattern, path or glob`);
    if (this.budget.full) {
      notes.push(`stopped after ${plural(this.matches, 'match', 'matches')}: output capped at ${outputBytes} bytes; narrow the search`);
    }
    if (this.timedOut === 'stall') {
      notes.push(`search stopped: the pattern or glob took over ${PATTERN_STALL_MS / 1000} s on one batch (it backtracks); the matches before that are shown; simplify it`);
    }
    if (this.timedOut === 'budget') {
      notes.push(`search stopped after ${SEARCH_TIME_BUDGET_MS / 1000} s; narrow the path or glob`);
    }
    if (this.longLines > 0) {
      notes.push(`${plural(this.longLines, 'line')} longer than ${lineLength} characters: only their start was searched`);
    }
    if (this.largeFiles > 0) {
      notes.push(`${plural(this.largeFiles, 'file')} over ${SEARCH_MAX_FILE_BYTES / (1024 * 1024)} MiB not searched`);
    }
    return notes;
  }
}
