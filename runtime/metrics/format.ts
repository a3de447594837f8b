// Rows → text for the metrics and agent commands: aligned tables, CSV, and
// small helpers for ages, token counts and --since. Pure functions.
import { UsageError } from '../../policy/errors.js';
import { parseDuration } from '../duration.js';

/** How a value is shown in a table or CSV cell. */
export function cellText(v: unknown, nullText = 'NULL'): string {
  if (v === null || v === undefined) return nullText;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

const isNumeric = (v: unknown) => typeof v === 'number';

/** An aligned table: a header, a rule, one line per row; numbers right-aligned. */
export function formatTable(columns: string[], rows: Record<string, unknown>[]): string {
  // One line per cell: a newline inside a value would break the alignment.
  const oneLine = (s: string) => s.replace(/\r?\n/g, '\\n');
  const cells = rows.map((r) => columns.map((c) => oneLine(cellText(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const right = columns.map((c) => rows.length > 0 && rows.every((r) => r[c] === null || r[c] === undefined || isNumeric(r[c])));
  const pad = (s: string, i: number) => (right[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (parts: string[]) => parts.map(pad).join('  ').trimEnd();
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  return `${out.join('\n')}\n`;
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV with a header line; NULL is an empty field. */
export function formatCsv(columns: string[], rows: Record<string, unknown>[]): string {
  const lines = [columns.map(csvField).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvField(cellText(r[c], ''))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** `--since`: a duration back from now (30m, 12h, 7d, 2w) or an ISO date/time. */
export function parseSince(value: string, now = Date.now()): Date {
  const back = parseDuration(value);
  if (back !== null) return new Date(now - back);
  if (/^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    const t = Date.parse(value.trim());
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw new UsageError(`--since: expected a duration (30m, 12h, 7d, 2w) or an ISO date, got "${value}"`);
}

/** "42s", "5m", "3h", "2d" since `iso`. */
export function age(iso: unknown, now = Date.now()): string {
  if (typeof iso !== 'string') return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return '-';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** 1234 → "1,234". */
export function count(n: unknown): string {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '-';
}

export function usd(n: unknown): string {
  return typeof n === 'number' ? `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}` : '-';
}

export function ms(n: unknown): string {
  if (typeof n !== 'number') return '-';
  return n < 10 ? `${n.toFixed(2)} ms` : n < 10_000 ? `${n.toFixed(0)} ms` : `${(n / 1000).toFixed(1)} s`;
}
