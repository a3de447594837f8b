// read_file: numbered lines of a text file, a window at a time.

import { Type } from '@sinclair/typebox';
import { ToolFailure } from '../policy/errors.js';
import type { FileHandle } from 'node:fs/promises';
import { DEFAULT_TOOL_LIMITS as LIMITS, type ToolContext, defineCapability } from './capability.js';
import { OutputBudget, cutLine, plural, withNotes } from './fs/output.js';
import { openFile, readSmallSync } from './fs/authority.js';
import { BINARY_SAMPLE_BYTES, countLines, countLinesIn, looksBinary, readSample, scanLines, scanLinesIn, type ScannedLine } from './fs/read.js';

/**
 * Files up to this size are read in one call and windowed in memory (one read
 * instead of a sample, a scan and a count, each ending on an EOF read); larger
 * ones are streamed so memory stays bounded.
 */
export const WHOLE_READ_MAX_BYTES = 1024 * 1024;

export const readFile = defineCapability({
  name: 'read_file',
  description:
    'Read a text file of the workspace. Returns numbered lines as "N<TAB>text", from `offset` (1-based, default 1) ' +
    `for \`limit\` lines (default ${LIMITS.readLines}). Lines are cut at ${LIMITS.lineLength} characters and the ` +
    `output at ${LIMITS.outputBytes} bytes; a note at the end says what was not shown and which offset to read next. ` +
    'Binary files are reported, not shown.',
  input: Type.Object(
    {
      path: Type.String({ description: 'File path relative to the workspace root, e.g. "src/index.ts"' }),
      offset: Type.Optional(Type.Integer({ minimum: 1, description: 'First line to show, 1-based (default 1)' })),
      limit: Type.Optional(Type.Integer({ minimum: 1, description: `How many lines to show (default ${LIMITS.readLines})` })),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['control', 'impl'],
  actions: ['read'],

  async run(ctx, input) {
    const target = await ctx.authorize(input.path, 'read');
    if (!target.exists) throw new ToolFailure(`no such file: ${target.rel}`);
    const small = readSmallSync(target, WHOLE_READ_MAX_BYTES);
    if (small) {
      // The stats of the handle the content came from: the version the model sees.
      await ctx.observed(target, small.stats);
      return render(ctx, input, target.rel, small.whole.length, { whole: small.whole });
    }
    const { handle, size, stats } = await openFile(target);
    try {
      await ctx.observed(target, stats);
      return await render(ctx, input, target.rel, size, { handle });
    } finally {
      await handle.close();
    }
  },
});

type Source = { whole: Buffer } | { handle: FileHandle };

/** The numbered window of a file, from memory (small files) or streamed from its handle. */
async function render(ctx: ToolContext, input: { offset?: number; limit?: number }, rel: string, size: number, source: Source): Promise<string> {
  if (size === 0) return `${rel}: (empty file)`;
  const whole = 'whole' in source ? source.whole : null;
  const handle = 'handle' in source ? source.handle : null;
  const sample = whole ? whole.subarray(0, BINARY_SAMPLE_BYTES) : await readSample(handle!);
  if (looksBinary(sample)) return `${rel}: binary file, ${size} bytes (not shown)`;

  const { lineLength, outputBytes } = ctx.limits;
  const first = input.offset ?? 1;
  const last = first + (input.limit ?? ctx.limits.readLines) - 1;
  const budget = new OutputBudget(outputBytes);
  let cutLines = 0;
  let shownLast = first - 1;
  const show = (line: ScannedLine): boolean => {
    if (line.number < first) return true;
    if (line.number > last) return false;
    const shown = cutLine(line.text, lineLength, line.droppedChars);
    if (!budget.add(`${line.number}\t${shown.text}`)) return false;
    if (shown.cut) cutLines += 1;
    shownLast = line.number;
    return true;
  };
  if (whole) scanLinesIn(whole, lineLength + 1, show, ctx.signal);
  else await scanLines(handle!, lineLength + 1, show, ctx.signal);
  const total = whole ? countLinesIn(whole) : await countLines(handle!, ctx.signal);
  if (first > total) {
    throw new ToolFailure(`offset ${first} is past the end of ${rel} (${plural(total, 'line')})`);
  }

  const notes: string[] = [];
  if (cutLines > 0) notes.push(`${plural(cutLines, 'line')} cut at ${lineLength} characters`);
  if (shownLast < total) {
    const why = budget.full ? ` (output capped at ${outputBytes} bytes)` : '';
    notes.push(`lines ${shownLast + 1}-${total} of ${total} not shown${why}; call read_file with offset=${shownLast + 1}`);
  }
  return withNotes(budget.lines.join('\n'), notes);
}
