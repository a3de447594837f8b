// A small line diff (Myers, O((N+M)·D)) and a unified-style rendering, for
// the previews a human approves. Past a bound on the edit distance it falls
// back to "replace the changed middle", which is still a correct diff.

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

/** Lines with their terminator, so "no newline at end" is a difference too. */
export function splitLines(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

export function diffLines(oldText: string, newText: string): DiffOp[] {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix += 1;
  let suffix = 0;
  while (
    suffix < a.length - prefix &&
    suffix < b.length - prefix &&
    a[a.length - 1 - suffix] === b[b.length - 1 - suffix]
  ) {
    suffix += 1;
  }
  const middleA = a.slice(prefix, a.length - suffix);
  const middleB = b.slice(prefix, b.length - suffix);
  const middle = myers(middleA, middleB) ?? [
    ...middleA.map((line): DiffOp => ({ kind: 'delete', line })),
    ...middleB.map((line): DiffOp => ({ kind: 'insert', line })),
  ];
  return [
    ...a.slice(0, prefix).map((line): DiffOp => ({ kind: 'equal', line })),
    ...middle,
    ...a.slice(a.length - suffix).map((line): DiffOp => ({ kind: 'equal', line })),
  ];
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
  for (let d = 0; d <= max; d += 1) {
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x += 1;
        y += 1;
      }
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

/**
 * `--- old` / `+++ new` / `@@ -l,s +l,s @@` hunks. Identical texts give ''.
 * A created file is labelled `/dev/null` on the old side by the caller.
 */
export function unifiedDiff(oldText: string, newText: string, options: UnifiedDiffOptions = {}): string {
  const context = options.context ?? 3;
  const ops = diffLines(oldText, newText);
  const changed = ops.map((op, i) => (op.kind === 'equal' ? -1 : i)).filter((i) => i >= 0);
  if (changed.length === 0) return '';

  // Group changes whose context overlaps into hunks of op indexes [start, end).
  const hunks: Array<[number, number]> = [];
  for (const i of changed) {
    const start = Math.max(0, i - context);
    const end = Math.min(ops.length, i + 1 + context);
    const last = hunks[hunks.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else hunks.push([start, end]);
  }

  const out = [`--- ${options.oldLabel ?? 'a'}`, `+++ ${options.newLabel ?? 'b'}`];
  // Line numbers before each op, on both sides.
  let oldLine = 1;
  let newLine = 1;
  const oldAt: number[] = [];
  const newAt: number[] = [];
  for (const op of ops) {
    oldAt.push(oldLine);
    newAt.push(newLine);
    if (op.kind !== 'insert') oldLine += 1;
    if (op.kind !== 'delete') newLine += 1;
  }
  for (const [start, end] of hunks) {
    const slice = ops.slice(start, end);
    const oldCount = slice.filter((op) => op.kind !== 'insert').length;
    const newCount = slice.filter((op) => op.kind !== 'delete').length;
    // Unified format: an empty side is numbered by the line before it.
    const oldStart = oldCount === 0 ? oldAt[start]! - 1 : oldAt[start]!;
    const newStart = newCount === 0 ? newAt[start]! - 1 : newAt[start]!;
    out.push(`@@ -${oldStart},${oldCount} +${newStart},${newCount} @@`);
    for (const op of slice) out.push(...renderLine(op));
  }

  const maxLines = options.maxLines;
  if (maxLines !== undefined && out.length > maxLines) {
    const left = out.length - maxLines;
    return [...out.slice(0, maxLines), `[… ${left} more diff lines not shown]`].join('\n');
  }
  return out.join('\n');
}

/** Rendered lines in an approval preview before the rest is summarized. */
export const PREVIEW_MAX_LINES = 500;

/** The preview a human approves: a diff of `rel`, from nothing when `before` is null (a new file). */
export function filePreview(rel: string, before: string | null, after: string): string {
  const diff = unifiedDiff(before ?? '', after, {
    oldLabel: before === null ? '/dev/null' : `a/${rel}`,
    newLabel: `b/${rel}`,
    maxLines: PREVIEW_MAX_LINES,
  });
  return diff === '' ? `${rel}: no change` : diff;
}
