// Rows → text for the metrics and agent commands: aligned tables, CSV, and
// small helpers for ages, token counts and --since. Pure functions.
import { UsageError } from '../../policy/errors.js';
import { parseDuration } from '../duration.js';
import { termLine } from '../terminal/text.js';
import { displayWidth } from '../terminal/width.js';

/** How a value is shown in a CSV cell (exact: CSV is for programs). */
export function cellText(v: unknown, nullText = ''): string {
  if (v === null || v === undefined) return nullText;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** A session's model as the session commands show it, `gpt-5-mini (openai)`; logs older than sessions.provider have none. */
export function modelWithProvider(model: unknown, provider: unknown): string | null {
  if (model === null || model === undefined || model === '') return null;
  return provider ? `${cellText(model)} (${cellText(provider)})` : cellText(model);
}

// A number, or a quantity already written with its unit ("25 ms", "$0.0038"): right-aligned.
const isNumeric = (v: unknown) => typeof v === 'number' || (typeof v === 'string' && /^[-+]?\$?\d[\d,]*(\.\d+)?( ?[A-Za-zµ%]{1,3})?$/.test(v));

/**
 * Decimals a column of numbers is shown with, the same for every row so the
 * points line up: none for whole numbers, 2 when every fraction is at least
 * 1, else 4 (costs in dollars, milliseconds under one).
 */
function decimalsOf(values: unknown[]): number {
  const fractions = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && !Number.isInteger(v));
  if (fractions.length === 0) return 0;
  return fractions.every((v) => Math.abs(v) >= 1) ? 2 : 4;
}

/**
 * An aligned table for a person: a header, a rule, one line per row; numbers
 * rounded and right-aligned, a missing value shown as "-". Every cell goes
 * through the terminal sanitizer and stays on one line, so a value (a path, an
 * error, a model's text) can neither break the alignment nor act on the terminal.
 */
export function formatTable(columns: string[], rows: Record<string, unknown>[]): string {
  const right = columns.map((c) => rows.length > 0 && rows.every((r) => r[c] === null || r[c] === undefined || isNumeric(r[c])));
  const decimals = columns.map((c, i) => (right[i] ? decimalsOf(rows.map((r) => r[c])) : 0));
  const show = (v: unknown, i: number) =>
    v === null || v === undefined ? '-' : typeof v === 'number' && Number.isFinite(v) ? v.toFixed(decimals[i]) : termLine(cellText(v));
  const cells = rows.map((r) => columns.map((c, i) => show(r[c], i)));
  const head = columns.map((c) => termLine(c));
  const widths = head.map((c, i) => Math.max(displayWidth(c), ...cells.map((row) => displayWidth(row[i]))));
  const pad = (s: string, i: number) => {
    const fill = ' '.repeat(Math.max(0, widths[i] - displayWidth(s)));
    return right[i] ? fill + s : s + fill;
  };
  const line = (parts: string[]) => parts.map(pad).join('  ').trimEnd();
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  return `${out.join('\n')}\n`;
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * RFC 4180 CSV with a header line; NULL is an empty field. `forTerminal`
 * (stdout is a terminal, so a person reads it) passes every field through the
 * terminal sanitizer; otherwise the values are exact.
 */
export function formatCsv(columns: string[], rows: Record<string, unknown>[], forTerminal = false): string {
  const field = (s: string) => csvField(forTerminal ? termLine(s) : s);
  const lines = [columns.map(field).join(',')];
  for (const r of rows) lines.push(columns.map((c) => field(cellText(r[c]))).join(','));
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
