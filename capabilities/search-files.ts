// search_files: lines matching a JavaScript regular expression, as `path:line: text`.

import picomatch from 'picomatch';
import { Type } from '@sinclair/typebox';
import { ToolFailure } from '../policy/errors.js';
import { DEFAULT_TOOL_LIMITS as LIMITS, defineCapability, type AuthorizedPath, type ToolContext } from './capability.js';
import { openFile } from './fs/authority.js';
import { OutputBudget, cutLine, displayPath, plural, withNotes } from './fs/output.js';
import { existingEntry, looksBinary, readSample, scanLines } from './fs/read.js';
import { walk } from './fs/walk.js';

/** Bigger files are not searched (named in a note): they are data, not source. */
export const SEARCH_MAX_FILE_BYTES = 10 * 1024 * 1024;
/**
 * A whole search stops after this long. One regex test cannot be interrupted,
 * but each one sees at most `lineLength` characters, which bounds it.
 */
export const SEARCH_TIME_BUDGET_MS = 10_000;

export const searchFiles = defineCapability({
  name: 'search_files',
  description:
    'Search text files of the workspace for a JavaScript regular expression (no flags), e.g. function \\w+\\( . ' +
    'Returns matching lines as "path:line: text", files in sorted order. `path` limits the search to a directory ' +
    'or file; `glob` keeps only files whose workspace-relative path matches it (e.g. "**/*.ts", or "*.md" for any ' +
    'directory). Binary files, symlinks, .git, node_modules and .choragen are skipped. At most ' +
    `${LIMITS.searchMatches} matches; each line is searched and shown up to ${LIMITS.lineLength} characters; ` +
    'a note says what was cut.',
  input: Type.Object(
    {
      pattern: Type.String({ description: 'JavaScript regular expression, matched against each line' }),
      path: Type.Optional(Type.String({ description: 'Directory or file to search, relative to the workspace (default ".")' })),
      glob: Type.Optional(Type.String({ description: 'Only files whose relative path matches this glob, e.g. "src/**/*.ts"' })),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['control', 'impl'],

  async run(ctx, input) {
    const regex = compilePattern(input.pattern);
    const matchesGlob = input.glob === undefined ? () => true : compileGlob(input.glob);
    const target = await ctx.authorize(input.path ?? '.', 'read');
    const shown = displayPath(target.rel);
    const stats = existingEntry(target, 'searching', `no such file or directory: ${shown}`);

    const search = new Search(ctx, regex);
    if (stats.isDirectory()) {
      const files = walk(target, { recursive: true, canRead: (rel) => ctx.canRead(rel), signal: ctx.signal });
      for await (const entry of files) {
        if (entry.kind !== 'file' || !matchesGlob(entry.rel)) continue;
        if (!(await search.file(entry.path))) break;
      }
    } else if (matchesGlob(target.rel)) {
      await search.file(target);
    }

    const notes = search.notes();
    if (search.matches === 0) {
      const where = input.glob === undefined ? shown : `${shown} (glob ${input.glob})`;
      return withNotes(`no matches for /${input.pattern}/ in ${where}`, notes);
    }
    return withNotes(search.budget.lines.join('\n'), notes);
  },
});

function compilePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw new ToolFailure(`invalid pattern: ${(err as Error).message}`);
  }
}

function compileGlob(glob: string): (rel: string) => boolean {
  try {
    // A glob without "/" ("*.ts") matches the file name in any directory. Only
    // then: picomatch's `basename` also rewrites globs that have slashes.
    return picomatch(glob, { dot: true, basename: !glob.includes('/') });
  } catch (err) {
    throw new ToolFailure(`invalid glob ${JSON.stringify(glob)}: ${(err as Error).message}`);
  }
}

/** The running state of one search call: matches, caps, and what was skipped. */
class Search {
  readonly budget: OutputBudget;
  matches = 0;
  private moreMatches = false;
  private timedOut = false;
  private longLines = 0;
  private largeFiles = 0;
  private readonly deadline = Date.now() + SEARCH_TIME_BUDGET_MS;

  constructor(
    private readonly ctx: ToolContext,
    private readonly regex: RegExp,
  ) {
    this.budget = new OutputBudget(ctx.limits.outputBytes);
  }

  /** Search one file; false once a cap is reached and the search should stop. */
  async file(path: AuthorizedPath): Promise<boolean> {
    const { lineLength, searchMatches } = this.ctx.limits;
    const { rel } = path;
    let opened;
    try {
      opened = await openFile(path);
    } catch {
      return true; // vanished, or not a regular file: nothing to search
    }
    const { handle, size } = opened;
    try {
      if (size > SEARCH_MAX_FILE_BYTES) {
        this.largeFiles += 1;
        return true;
      }
      if (size === 0 || looksBinary(await readSample(handle))) return true;
      await scanLines(
        handle,
        lineLength,
        (line) => {
          if (Date.now() > this.deadline) {
            this.timedOut = true;
            return false;
          }
          if (line.droppedChars > 0) this.longLines += 1;
          if (!this.regex.test(line.text)) return true;
          if (this.matches >= searchMatches) {
            this.moreMatches = true;
            return false;
          }
          const text = cutLine(line.text, lineLength, line.droppedChars).text;
          if (!this.budget.add(`${rel}:${line.number}: ${text}`)) return false;
          this.matches += 1;
          return true;
        },
        this.ctx.signal,
      );
    } finally {
      await handle.close();
    }
    return !(this.moreMatches || this.timedOut || this.budget.full);
  }

  notes(): string[] {
    const { lineLength, outputBytes, searchMatches } = this.ctx.limits;
    const notes: string[] = [];
    if (this.moreMatches) notes.push(`stopped at ${searchMatches} matches; narrow the pattern, path or glob`);
    if (this.budget.full) {
      notes.push(`stopped after ${plural(this.matches, 'match', 'matches')}: output capped at ${outputBytes} bytes; narrow the search`);
    }
    if (this.timedOut) {
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
