// A small line diff (Myers, O((N+M)·D)) and a unified-style rendering, for
// the previews a human approves and for git_diff. Past a bound on the edit
// distance or on the work it falls back to "replace the changed middle",
// which is still a correct diff.

export type DiffOp = { kind: 'equal' | 'delete' | 'insert'; line: string };

export interface UnifiedDiffOptions {
  oldLabel?: string;
  newLabel?: string;
  /** unchanged lines shown around each change */
  context?: number;
  /** cap on the rendered lines (a note says how many were left out) */
  maxLines?: number;
}

/** Beyond this many inserted + deleted lines in the middle, skip the search. */
const MAX_EDIT_DISTANCE = 1000;
/**
 * Beyond this many comparisons, skip the search too: within the edit
 * distance bound the work is still O((N+M)·D), and a file shaped for it
 * (alternating lines against lines in thirds) would hold the broker's
 * thread for seconds.
 */
const MAX_DIFF_STEPS = 2_000_000;

/** Lines with their terminator, so "no newline at end" is a difference too. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
    lines.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/**
 * An edit script held lazily: the common prefix and suffix as counts, and the
 * changed middle either as Myers' ops or, past the search bounds, as "delete
 * the old middle, insert the new one" by index. A 1 MB file diffed against
 * another is never turned into a million op objects unless someone asks.
 */
class Script {
  readonly a: string[];
  readonly b: string[];
  readonly prefix: number;
  readonly suffix: number;
  /** null: the middle is replaced whole */
  private readonly middle: DiffOp[] | null;
  private readonly oldMiddle: number;
  private readonly middleLength: number;

  constructor(oldText: string, newText: string) {
    const a = (this.a = splitLines(oldText));
    const b = (this.b = splitLines(newText));
    let prefix = 0;
    while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix += 1;
    let suffix = 0;
    while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix += 1;
    this.prefix = prefix;
    this.suffix = suffix;
    this.oldMiddle = a.length - prefix - suffix;
    const newMiddle = b.length - prefix - suffix;
    this.middle = myers(a.slice(prefix, a.length - suffix), b.slice(prefix, b.length - suffix));
    this.middleLength = this.middle ? this.middle.length : this.oldMiddle + newMiddle;
  }

  get length(): number {
    return this.prefix + this.middleLength + this.suffix;
  }

  /** The line of op `i` (no object made: counting a million lines stays cheap). */
  lineAt(i: number): string {
    if (i < this.prefix) return this.a[i]!;
    const j = i - this.prefix;
    if (j < this.middleLength) {
      if (this.middle) return this.middle[j]!.line;
      return j < this.oldMiddle ? this.a[i]! : this.b[this.prefix + j - this.oldMiddle]!;
    }
    return this.a[this.a.length - this.suffix + (j - this.middleLength)]!;
  }

  at(i: number): DiffOp {
    if (i < this.prefix) return { kind: 'equal', line: this.a[i]! };
    const j = i - this.prefix;
    if (j < this.middleLength) {
      if (this.middle) return this.middle[j]!;
      return j < this.oldMiddle ? { kind: 'delete', line: this.a[i]! } : { kind: 'insert', line: this.b[this.prefix + j - this.oldMiddle]! };
    }
    return { kind: 'equal', line: this.a[this.a.length - this.suffix + (j - this.middleLength)]! };
  }

  /** Indexes of the ops that change something, in order, as [first, end) runs. */
  *changes(): Generator<[number, number]> {
    if (!this.middle) {
      if (this.middleLength > 0) yield [this.prefix, this.prefix + this.middleLength];
      return;
    }
    for (let j = 0; j < this.middle.length; j += 1) {
      if (this.middle[j]!.kind === 'equal') continue;
      const first = j;
      while (j + 1 < this.middle.length && this.middle[j + 1]!.kind !== 'equal') j += 1;
      yield [this.prefix + first, this.prefix + j + 1];
    }
  }

  /** Line numbers (1-based) on the old and the new side before op `i`. */
  linesBefore(i: number): [number, number] {
    if (i <= this.prefix) return [i + 1, i + 1];
    const j = Math.min(i - this.prefix, this.middleLength);
    let old = this.prefix + 1;
    let neu = this.prefix + 1;
    if (this.middle) {
      for (let k = 0; k < j; k += 1) {
        if (this.middle[k]!.kind !== 'insert') old += 1;
        if (this.middle[k]!.kind !== 'delete') neu += 1;
      }
    } else {
      old += Math.min(j, this.oldMiddle);
      neu += Math.max(0, j - this.oldMiddle);
    }
    const after = i - this.prefix - j; // ops into the suffix
    return [old + after, neu + after];
  }
}

export function diffLines(oldText: string, newText: string): DiffOp[] {
  const script = new Script(oldText, newText);
  return Array.from({ length: script.length }, (_, i) => script.at(i));
}

/** Shortest edit script, or null when it is longer than MAX_EDIT_DISTANCE. */
function myers(a: string[], b: string[]): DiffOp[] | null {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return null; // the fallback is exact for these
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  // trace[d] holds v[-d-1 .. d+1] as it was before step d.
  const trace: Int32Array[] = [];
  let steps = 0;
  for (let d = 0; d <= max; d += 1) {
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      const from = x;
      while (x < n && y < m && a[x] === b[y]) {
        x += 1;
        y += 1;
      }
      steps += 1 + x - from;
      if (steps > MAX_DIFF_STEPS) return null;
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(a, b, trace, d);
    }
  }
  return null;
}

function backtrack(a: string[], b: string[], trace: Int32Array[], last: number): DiffOp[] {
  const ops: DiffOp[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = last; d > 0; d -= 1) {
    const before = trace[d]!;
    const at = (k: number): number => before[k + d + 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push({ kind: 'equal', line: a[x - 1]! });
      x -= 1;
      y -= 1;
    }
    if (down) {
      ops.push({ kind: 'insert', line: b[y - 1]! });
      y -= 1;
    } else {
      ops.push({ kind: 'delete', line: a[x - 1]! });
      x -= 1;
    }
  }
  while (x > 0 && y > 0) {
    ops.push({ kind: 'equal', line: a[x - 1]! });
    x -= 1;
    y -= 1;
  }
  return ops.reverse();
}

const SIGN = { equal: ' ', delete: '-', insert: '+' } as const;

function renderLine(op: DiffOp): string[] {
  const text = op.line.endsWith('\n') ? op.line.slice(0, -1) : op.line;
  const rendered = [`${SIGN[op.kind]}${text}`];
  if (!op.line.endsWith('\n')) rendered.push('\\ No newline at end of file');
  return rendered;
}

/** The lines an op renders as: one, plus a marker when its line has no final newline. */
function renderedCount(line: string): number {
  return line.endsWith('\n') ? 1 : 2;
}

/**
 * `--- old` / `+++ new` / `@@ -l,s +l,s @@` hunks. Identical texts give ''.
 * A created file is labelled `/dev/null` on the old side by the caller.
 * With `maxLines`, rendering stops there and a note counts the rest.
 */
export function unifiedDiff(oldText: string, newText: string, options: UnifiedDiffOptions = {}): string {
  const context = options.context ?? 3;
  const script = new Script(oldText, newText);

  // Group changes whose context overlaps into hunks of op indexes [start, end).
  const hunks: Array<[number, number]> = [];
  for (const [first, end] of script.changes()) {
    const start = Math.max(0, first - context);
    const stop = Math.min(script.length, end + context);
    const last = hunks[hunks.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], stop);
    else hunks.push([start, stop]);
  }
  if (hunks.length === 0) return '';

  const maxLines = options.maxLines ?? Infinity;
  const out = [`--- ${options.oldLabel ?? 'a'}`, `+++ ${options.newLabel ?? 'b'}`];
  let left = 0; // lines not rendered for lack of room
  for (const [start, end] of hunks) {
    if (out.length >= maxLines) {
      left += 1;
      for (let i = start; i < end; i += 1) left += renderedCount(script.lineAt(i));
      continue;
    }
    const [oldBefore, newBefore] = script.linesBefore(start);
    const [oldAfter, newAfter] = script.linesBefore(end);
    const oldCount = oldAfter - oldBefore;
    const newCount = newAfter - newBefore;
    // Unified format: an empty side is numbered by the line before it.
    out.push(`@@ -${oldCount === 0 ? oldBefore - 1 : oldBefore},${oldCount} +${newCount === 0 ? newBefore - 1 : newBefore},${newCount} @@`);
    for (let i = start; i < end; i += 1) {
      if (out.length >= maxLines) {
        left += renderedCount(script.lineAt(i));
        continue;
      }
      out.push(...renderLine(script.at(i)));
    }
  }
  if (out.length > maxLines) {
    left += out.length - maxLines;
    out.length = maxLines;
  }
  if (left > 0) out.push(`[… ${left} more diff lines not shown]`);
  return out.join('\n');
}

/**
 * The options of the preview a human approves: a diff of `rel`, from nothing
 * when `before` is null (a new file). Never capped: the approver pages it, and
 * a line left out would be approved unseen.
 */
export function previewOptions(rel: string, before: string | null): UnifiedDiffOptions {
  return { oldLabel: before === null ? '/dev/null' : `a/${rel}`, newLabel: `b/${rel}` };
}

/** The preview a human approves, from the diff `previewOptions` asks for. */
export function previewText(rel: string, diff: string): string {
  return diff === '' ? `${rel}: no change` : diff;
}

/** The preview a human approves: a diff of `rel`, from nothing when `before` is null (a new file). */
export function filePreview(rel: string, before: string | null, after: string): string {
  return previewText(rel, unifiedDiff(before ?? '', after, previewOptions(rel, before)));
}
