// Text views of chains and tasks: what chain_status / task_list return to a
// model, what a child's first message carries, and the chain:status table.
// Pure functions of the store's records.

import type { ChainSummary, TaskRecord } from './store.js';
import { TASK_STATUSES } from './model.js';

type TaskLine = Omit<TaskRecord, 'text'>;

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function countsText(summary: ChainSummary): string {
  const parts = TASK_STATUSES.filter((s) => summary.counts[s] > 0).map((s) => `${summary.counts[s]} ${s}`);
  const total = summary.tasks.length;
  return `${total} task${total === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

function taskLines(tasks: TaskLine[], indent: string): string[] {
  const nameWidth = Math.max(0, ...tasks.map((t) => t.name.length));
  const statusWidth = Math.max(0, ...tasks.map((t) => t.status.length));
  return tasks.map((t) => {
    const extra = [t.type === 'control' ? 'type control' : null, t.lastSession ? `last session ${t.lastSession}` : null].filter(Boolean);
    return `${indent}${pad(t.name, nameWidth)}  ${pad(t.status, statusWidth)}  ${t.title}${extra.length ? `  (${extra.join(', ')})` : ''}`;
  });
}

/** chain_status's answer; with forControl, a short note on what to do next. */
export function formatChainStatus(summaries: ChainSummary[], options: { forControl?: boolean } = {}): string {
  if (summaries.length === 0) return 'No chains yet (docs/tasks is empty).';
  const blocks = summaries.map((s) => {
    const head = `${s.id}: ${s.title} (${countsText(s)})`;
    return s.tasks.length ? [head, ...taskLines(s.tasks, '  ')].join('\n') : head;
  });
  let text = blocks.join('\n\n');
  if (options.forControl) {
    text =
      `You are the control session for chain ${summaries.map((s) => s.id).join(', ')}.\n` +
      'Task files live in docs/tasks/<status>/<CHAIN-ID>/<task>.md. Start a task with task_start, ' +
      'hand impl tasks to spawn_impl_session with its task_id, then task_approve or task_rework what comes back for review.\n\n' +
      text;
  }
  return text;
}

/** task_list's answer. */
export function formatTaskList(tasks: TaskLine[]): string {
  if (tasks.length === 0) return 'No tasks.';
  const idWidth = Math.max(...tasks.map((t) => t.id.length));
  const statusWidth = Math.max(...tasks.map((t) => t.status.length));
  return tasks.map((t) => `${pad(t.id, idWidth)}  ${pad(t.status, statusWidth)}  ${t.title}`).join('\n');
}

/** What a child session's first message carries for its task. */
export function formatTaskForChild(task: TaskRecord, chainTitle: string): string {
  return [
    `Task: ${task.id}`,
    `Chain: ${task.chainId} (${chainTitle})`,
    `Status: ${task.status}`,
    `Task file: ${task.rel}`,
    '',
    '----- task file -----',
    task.text.trimEnd(),
    '----- end of task file -----',
    '',
    'Do the work this task describes. When it is done, call complete_task with a summary of what you changed and how you checked it.',
  ].join('\n');
}

export interface ChainTableOptions {
  /** Tokens per task id (`CHAIN-ID/NNN-slug`), e.g. from the metrics database; "-" when absent. */
  tokensByTask?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
}

function tokensOf(options: ChainTableOptions, id: string): number | undefined {
  const source = options.tokensByTask;
  if (!source) return undefined;
  return source instanceof Map ? source.get(id) : (source as Readonly<Record<string, number>>)[id];
}

/** One row per task: what `chain:status` prints and `--json` serializes. */
export interface ChainTableRow {
  chain: string;
  task: string;
  title: string;
  status: string;
  last_session: string | null;
  tokens: number | null;
}

export function chainTableRows(summaries: ChainSummary[], options: ChainTableOptions = {}): ChainTableRow[] {
  return summaries.flatMap((s) =>
    s.tasks.map((t) => ({
      chain: s.id,
      task: t.id,
      title: t.title,
      status: t.status,
      last_session: t.lastSession,
      tokens: tokensOf(options, t.id) ?? null,
    })),
  );
}

/** The `chain:status` table: per chain a title line, then TASK STATUS LAST SESSION TOKENS. */
export function formatChainStatusTable(summaries: ChainSummary[], options: ChainTableOptions = {}): string {
  if (summaries.length === 0) return 'No chains yet. Create one with `choragen chain:new TITLE`.\n';
  const rows = chainTableRows(summaries, options);
  const cells = (r: ChainTableRow) => [r.task.slice(r.chain.length + 1), r.status, r.last_session ?? '-', r.tokens === null ? '-' : String(r.tokens)];
  const header = ['TASK', 'STATUS', 'LAST SESSION', 'TOKENS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => cells(r)[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : pad(c, widths[i]!))).join('  ').trimEnd();
  const out: string[] = [];
  for (const s of summaries) {
    out.push(`${s.id}: ${s.title} (${countsText(s)})`);
    const own = rows.filter((r) => r.chain === s.id);
    if (own.length) out.push(`  ${line(header)}`, ...own.map((r) => `  ${line(cells(r))}`));
    out.push('');
  }
  return out.join('\n');
}

/** Cut a tool answer to `maxBytes` on a line boundary, with a note saying so. */
export function capToolText(text: string, maxBytes: number, what: string): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const lines = text.split('\n');
  const kept: string[] = [];
  let used = 0;
  const room = Math.max(maxBytes - 200, Math.floor(maxBytes / 2));
  for (const line of lines) {
    const size = Buffer.byteLength(line, 'utf8') + 1;
    if (used + size > room) break;
    kept.push(line);
    used += size;
  }
  return `${kept.join('\n')}\n[output capped at ${maxBytes} bytes: ${lines.length - kept.length} more lines not shown; ${what}]`;
}
