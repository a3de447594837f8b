// Output caps shared by the file tools: one way to cut a long line, one byte
// budget, one format for the notes that say what was cut. A tool result is
// read by a model, so every cut is announced with what to do next.

/** Room kept for the closing notes so that they are never cut themselves. */
const NOTE_RESERVE_BYTES = 512;

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export interface CutLine {
  text: string;
  cut: boolean;
}

/**
 * Keep the first `max` characters of a line. `droppedChars` counts characters
 * the reader already dropped before the line got here (very long lines are not
 * kept whole in memory). A surrogate pair is never split.
 */
export function cutLine(line: string, max: number, droppedChars = 0): CutLine {
  if (line.length <= max && droppedChars === 0) return { text: line, cut: false };
  let end = Math.min(max, line.length);
  const last = line.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end -= 1;
  const more = line.length - end + droppedChars;
  return { text: `${line.slice(0, end)} … [line cut: ${more} more characters]`, cut: true };
}

/** Collects output lines until the byte cap is reached. */
export class OutputBudget {
  readonly lines: string[] = [];
  private used = 0;
  private readonly cap: number;
  /** Set once a line was refused for lack of room. */
  full = false;

  constructor(maxBytes: number) {
    this.cap = Math.max(maxBytes - NOTE_RESERVE_BYTES, Math.floor(maxBytes / 2));
  }

  /** Adds the line if it fits; false (and `full`) when it does not. */
  add(line: string): boolean {
    if (this.full) return false;
    const size = byteLength(line) + 1;
    if (this.used + size > this.cap) {
      this.full = true;
      return false;
    }
    this.lines.push(line);
    this.used += size;
    return true;
  }

  get count(): number {
    return this.lines.length;
  }
}

/** The body, then each note on its own line in brackets. */
export function withNotes(body: string, notes: readonly string[]): string {
  if (notes.length === 0) return body;
  const tail = notes.map((note) => `[${note}]`).join('\n');
  return body.length > 0 ? `${body}\n${tail}` : tail;
}

export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

/** Line breaks, escapes and other controls (C0, DEL, C1, line and paragraph separators). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * `src/a.ts` for a relative path; `.` for the workspace root (written `.` or ``).
 * A name holding a control character is shown quoted, as git quotes such
 * names, so a file named "a\nsrc/b.ts" cannot pass for two entries of a
 * listing (or a line of a diff) in what the model reads.
 */
export function displayPath(rel: string): string {
  if (rel === '') return '.';
  return CONTROL.test(rel) || rel.startsWith('"') ? JSON.stringify(rel) : rel;
}

/** A file name that is not valid UTF-8, shown with each byte that does not decode as `\xNN`. */
export function displayRawName(raw: Buffer): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < raw.length; ) {
    const length = utf8SequenceLength(raw, i);
    if (length > 0) {
      i += length;
      continue;
    }
    out += `${raw.subarray(start, i).toString('utf8')}\\x${raw[i]!.toString(16).padStart(2, '0')}`;
    start = ++i;
  }
  return out + raw.subarray(start).toString('utf8');
}

/** Bytes of the well-formed UTF-8 sequence at `i`, or 0 when there is none. */
function utf8SequenceLength(raw: Buffer, i: number): number {
  const b = raw[i]!;
  if (b < 0x80) return 1;
  const length = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  if (length === 0 || i + length > raw.length) return 0;
  const sequence = raw.subarray(i, i + length);
  return Buffer.from(sequence.toString('utf8'), 'utf8').equals(sequence) ? length : 0;
}
