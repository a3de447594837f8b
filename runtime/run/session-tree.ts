// The session tree as lines of text, fitted to a terminal: every line cut to
// the width, and a tree taller than the screen shortened, first by folding
// finished children into one line per parent, then by cutting the tail with a
// count. A view that is never taller or wider than the screen can always be
// erased and redrawn in place. Pure: rows in, lines out.
import { termLine } from '../terminal/text.js';
import { fitWidth } from '../terminal/width.js';

export interface TreeRow {
  id: string;
  parent: string | null;
  role: string;
  status: string;
  modelCalls: number;
  toolCalls: number;
  inTok: number;
  outTok: number;
  /** Output tokens of a model answer still arriving (0 or absent when none is). */
  receiving?: number;
}

export interface FitOptions {
  /** Columns of the terminal; lines are cut to one less, so none wraps. */
  columns?: number;
  /** Most lines the tree may take. */
  maxLines?: number;
}

const MARK: Record<string, string> = { running: '…', completed: '✓', failed: '✗', interrupted: '■', budget_exceeded: '$' };

/** 12345 -> "12.3k": token counts stay short enough for a narrow terminal. */
export function shortCount(n: number): string {
  if (n < 10_000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 100_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** The tree, rows in start order (a row whose parent is unknown is a root). */
export function treeLines(rows: readonly TreeRow[], opts: FitOptions = {}): string[] {
  const maxLines = Math.max(1, opts.maxLines ?? Infinity);
  let lines = render(rows, false);
  if (lines.length > maxLines) lines = render(rows, true);
  if (lines.length > maxLines) {
    const left = lines.length - (maxLines - 1);
    const running = rows.filter((r) => r.status === 'running').length;
    lines = [...lines.slice(0, maxLines - 1), `… ${left} more line${left === 1 ? '' : 's'} (${running} session${running === 1 ? '' : 's'} running)`];
  }
  return opts.columns ? lines.map((l) => fitWidth(l, Math.max(10, opts.columns! - 1))) : lines;
}

function render(rows: readonly TreeRow[], fold: boolean): string[] {
  const ids = new Set(rows.map((r) => r.id));
  const children = new Map<string, TreeRow[]>();
  for (const r of rows) if (r.parent && ids.has(r.parent)) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  const roleWidth = Math.max(...rows.map((r) => termLine(r.role).length), 4);
  const statusWidth = Math.max(...rows.map((r) => r.status.length), 7);
  const busy = (r: TreeRow): boolean => r.status === 'running' || (children.get(r.id) ?? []).some(busy);
  const describe = (r: TreeRow) =>
    `${termLine(r.role).padEnd(roleWidth)} ${termLine(r.id)} ${MARK[r.status] ?? '?'} ${r.status.padEnd(statusWidth)}  ` +
    `model ${r.modelCalls}  tools ${r.toolCalls}  ${shortCount(r.inTok)}/${shortCount(r.outTok)} tok` +
    (r.receiving ? `  receiving ~${shortCount(r.receiving)} tok` : '');

  const lines: string[] = [];
  const visit = (r: TreeRow, prefix: string, branch: string, childPrefix: string) => {
    lines.push(`${prefix}${branch}${describe(r)}`);
    const kids = children.get(r.id) ?? [];
    const shown = fold ? kids.filter(busy) : kids;
    const folded = fold ? kids.filter((k) => !busy(k)) : [];
    const entries: Array<TreeRow | 'folded'> = [...shown, ...(folded.length ? ['folded' as const] : [])];
    entries.forEach((k, i) => {
      const last = i === entries.length - 1;
      if (k === 'folded') lines.push(`${childPrefix}${last ? '└─ ' : '├─ '}${foldedSummary(folded, children)}`);
      else visit(k, childPrefix, last ? '└─ ' : '├─ ', childPrefix + (last ? '   ' : '│  '));
    });
  };
  for (const r of rows) if (!r.parent || !ids.has(r.parent)) visit(r, '', '', '');
  return lines;
}

function foldedSummary(folded: TreeRow[], children: Map<string, TreeRow[]>): string {
  const counts = new Map<string, number>();
  let total = 0;
  const count = (r: TreeRow) => {
    total++;
    counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    for (const k of children.get(r.id) ?? []) count(k);
  };
  folded.forEach(count);
  const parts = [...counts].map(([status, n]) => `${n} ${status}`);
  return `${total} finished session${total === 1 ? '' : 's'}: ${parts.join(', ')}`;
}
